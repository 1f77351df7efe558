import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import {
  AccountRecovery,
  FeaturePlan,
  Mfa,
  StandardThreatProtectionMode,
  UserPool,
  type UserPoolClient,
  VerificationEmailStyle,
} from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { acknowledge } from '../nag';

export interface AuthProps {
  /**
   * Cognito feature plan. `plus` (default) adds threat protection: compromised-credential checks and
   * adaptive authentication, enforced. `essentials` costs less and has neither.
   */
  featurePlan?: 'plus' | 'essentials';
}

/** End users: a Cognito pool whose JWTs the HTTP API accepts; the user id is the `sub` claim. */
export class Auth extends Construct {
  readonly userPool: UserPool;
  readonly userPoolClient: UserPoolClient;

  constructor(scope: Construct, id: string, { featurePlan = 'plus' }: AuthProps = {}) {
    super(scope, id);
    const plus = featurePlan === 'plus';
    this.userPool = new UserPool(this, 'UserPool', {
      selfSignUpEnabled: true,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      // Sign-up is confirmed by a code e-mailed to the address: no account without a reachable owner.
      autoVerify: { email: true },
      userVerification: { emailStyle: VerificationEmailStyle.CODE },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      // What the SPA's sign-up form announces (web/src/views/signin-account.ts).
      passwordPolicy: {
        minLength: 8,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      // Users may add an authenticator app; SMS is off (cost, SIM swapping).
      mfa: Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      featurePlan: plus ? FeaturePlan.PLUS : FeaturePlan.ESSENTIALS,
      ...(plus ? { standardThreatProtectionMode: StandardThreatProtectionMode.FULL_FUNCTION } : {}),
      // Deleting the pool would orphan every user's credits and jobs.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(
      this.userPool,
      'COG2',
      'MFA is optional (TOTP): a consumer app that forced MFA on sign-up would lose most users; threat protection covers risky sign-ins.',
    );
    if (!plus) {
      acknowledge(
        this.userPool,
        'COG8',
        'The operator chose the Essentials plan (-c cognitoFeaturePlan=essentials): no threat protection.',
      );
    }
    // A public SPA client: no secret, SRP sign-in; hosted-UI OAuth can be enabled with CloudFront.
    this.userPoolClient = this.userPool.addClient('WebClient', {
      generateSecret: false,
      authFlows: { userSrp: true },
      disableOAuth: true,
      preventUserExistenceErrors: true,
    });
  }
}
