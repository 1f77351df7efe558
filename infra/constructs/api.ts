import { RemovalPolicy } from 'aws-cdk-lib';
import { type CfnStage, HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IUserPool, IUserPoolClient } from 'aws-cdk-lib/aws-cognito';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ROUTES, type Route, routeKey } from '../../lambdas/handlers/routes';
import { acknowledge } from '../nag';

/** Requests per second (steady, burst) API Gateway lets through before answering 429. */
interface Throttle {
  rate: number;
  burst: number;
}

export interface ApiProps {
  handler: IFunction;
  userPool: IUserPool;
  userPoolClient: IUserPoolClient;
  routes?: readonly Route[];
  /** Every route (default 50/s, burst 100). */
  throttle?: Throttle;
  /** Unauthenticated routes: the provider's webhook and the health check (default 5/s, burst 10). */
  openRouteThrottle?: Throttle;
}

/** One JSON line per request: who, what, how it ended; never bodies, tokens or query strings (the webhook secret). */
const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  time: '$context.requestTime',
  routeKey: '$context.routeKey',
  status: '$context.status',
  latencyMs: '$context.responseLatency',
  user: '$context.authorizer.claims.sub',
  error: '$context.error.message',
  integrationError: '$context.integrationErrorMessage',
});

/** The HTTP API: one route per entry of ROUTES, all served by the single api Lambda. */
export class Api extends Construct {
  readonly httpApi: HttpApi;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const { handler, userPool, userPoolClient, routes = ROUTES } = props;
    const throttle = props.throttle ?? { rate: 50, burst: 100 };
    const open = props.openRouteThrottle ?? { rate: 5, burst: 10 };
    // No CORS: the SPA reaches /api/* on its own origin through CloudFront.
    this.httpApi = new HttpApi(this, 'HttpApi', { description: 'Ghostless API' });

    // JWT authorizer: issuer is the pool, audience the SPA client.
    const authorizer = new HttpUserPoolAuthorizer('Cognito', userPool, { userPoolClients: [userPoolClient] });
    const integration = new HttpLambdaIntegration('Api', handler);
    for (const route of routes) {
      const [created] = this.httpApi.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration,
        ...(route.auth ? { authorizer } : {}),
      });
      if (!route.auth && created) {
        acknowledge(
          created,
          'APIG4',
          route.path === '/api/health'
            ? 'The health check is public by design and returns a constant.'
            : "The provider's webhook carries no user token by design: the per-task secret it presents is checked in the handler.",
        );
      }
    }

    // The default stage is created by HttpApi; its L1 takes the settings the L2 does not expose.
    const stage = this.httpApi.defaultStage?.node.defaultChild as CfnStage;
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
    stage.accessLogSettings = { destinationArn: accessLogs.logGroupArn, format: ACCESS_LOG_FORMAT };
    stage.defaultRouteSettings = { throttlingRateLimit: throttle.rate, throttlingBurstLimit: throttle.burst };
    stage.routeSettings = Object.fromEntries(
      routes
        .filter((route) => !route.auth)
        // A JSON property in CloudFormation: the keys are written as CloudFormation spells them.
        .map((route) => [routeKey(route), { ThrottlingRateLimit: open.rate, ThrottlingBurstLimit: open.burst }]),
    );
  }

  /** Base URL of the default stage, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com/`. */
  get url(): string {
    return this.httpApi.url as string;
  }
}
