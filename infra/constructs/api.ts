import { HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IUserPool, IUserPoolClient } from 'aws-cdk-lib/aws-cognito';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ROUTES, type Route } from '../../lambdas/handlers/routes';

export interface ApiProps {
  handler: IFunction;
  userPool: IUserPool;
  userPoolClient: IUserPoolClient;
  routes?: readonly Route[];
}

/** The HTTP API: one route per entry of ROUTES, all served by the single api Lambda. */
export class Api extends Construct {
  readonly httpApi: HttpApi;

  constructor(scope: Construct, id: string, { handler, userPool, userPoolClient, routes = ROUTES }: ApiProps) {
    super(scope, id);
    // No CORS: the SPA reaches /api/* on its own origin through CloudFront.
    this.httpApi = new HttpApi(this, 'HttpApi', { description: 'Ghostless API' });

    // JWT authorizer: issuer is the pool, audience the SPA client.
    const authorizer = new HttpUserPoolAuthorizer('Cognito', userPool, { userPoolClients: [userPoolClient] });
    const integration = new HttpLambdaIntegration('Api', handler);
    for (const route of routes) {
      this.httpApi.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration,
        ...(route.auth ? { authorizer } : {}),
      });
    }
  }

  /** Base URL of the default stage, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com/`. */
  get url(): string {
    return this.httpApi.url as string;
  }
}
