import { RemovalPolicy } from 'aws-cdk-lib';
import { AccountRecovery, UserPool, type UserPoolClient } from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';

/** End users: a Cognito pool whose JWTs the HTTP API accepts; the user id is the `sub` claim. */
export class Auth extends Construct {
  readonly userPool: UserPool;
  readonly userPoolClient: UserPoolClient;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.userPool = new UserPool(this, 'UserPool', {
      selfSignUpEnabled: true,
      signInAliases: { email: true },
      autoVerify: { email: true },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      // Deleting the pool would orphan every user's credits and jobs.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // A public SPA client: no secret, SRP sign-in; hosted-UI OAuth can be enabled with CloudFront.
    this.userPoolClient = this.userPool.addClient('WebClient', {
      generateSecret: false,
      authFlows: { userSrp: true },
      disableOAuth: true,
      preventUserExistenceErrors: true,
    });
  }
}
