import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { type CfnStage, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IUserPool, IUserPoolClient } from 'aws-cdk-lib/aws-cognito';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/env-names';
import { acknowledge } from '../nag';
import { GhostlessFunction } from './ghostless-function';

export interface LiveUpdatesProps {
  table: ITable;
  userPool: IUserPool;
  userPoolClient: IUserPoolClient;
}

/** The stage browsers connect to: `wss://<id>.execute-api.<region>.amazonaws.com/live`. */
const STAGE = 'live';

/** One JSON line per connect, message and disconnect; never the query string (it carries the token). */
const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  time: '$context.requestTime',
  routeKey: '$context.routeKey',
  eventType: '$context.eventType',
  connectionId: '$context.connectionId',
  status: '$context.status',
  user: '$context.authorizer.principalId',
  error: '$context.error.message',
});

/**
 * The push channel: a WebSocket API whose $connect is authorized with the user's Cognito token (`?token=`), one
 * table item per connection, and `allowPublish` for the functions that change jobs.
 */
export class LiveUpdates extends Construct {
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
  readonly connections: GhostlessFunction;
  readonly authorizer: GhostlessFunction;

  constructor(scope: Construct, id: string, { table, userPool, userPoolClient }: LiveUpdatesProps) {
    super(scope, id);
    this.authorizer = new GhostlessFunction(this, 'AuthorizerFunction', {
      handlerFile: 'live-authorizer',
      environment: {
        [ENV.authIssuer]: `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${userPool.userPoolId}`,
        [ENV.authClientId]: userPoolClient.userPoolClientId,
      },
    });
    this.connections = new GhostlessFunction(this, 'ConnectionFunction', { handlerFile: 'live-connection' }).bindTable(table);
    const integration = new WebSocketLambdaIntegration('Connections', this.connections);
    this.api = new WebSocketApi(this, 'Api', {
      description: 'Ghostless live updates: job status and queue position pushed to the browser',
      connectRouteOptions: {
        integration,
        authorizer: new WebSocketLambdaAuthorizer('Token', this.authorizer, { identitySource: ['route.request.querystring.token'] }),
      },
      disconnectRouteOptions: { integration },
      defaultRouteOptions: { integration },
    });
    for (const route of ['$disconnect', '$default']) {
      const child = this.api.node.tryFindChild(`${route}-Route`);
      if (child)
        acknowledge(
          child,
          'APIG4',
          'Only $connect takes an authorizer in a WebSocket API: later routes run on the connection it authorized.',
        );
    }
    this.stage = new WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: STAGE,
      autoDeploy: true,
      throttle: { rateLimit: 50, burstLimit: 100 },
    });
    const logs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
    (this.stage.node.defaultChild as CfnStage).accessLogSettings = { destinationArn: logs.logGroupArn, format: ACCESS_LOG_FORMAT };
  }

  /** The URL browsers open (`wss://…/live`), written into the SPA's config.js. */
  get url(): string {
    return this.stage.url;
  }

  /** Lets a function push to any open connection: the management endpoint as env var, ManageConnections on it. */
  allowPublish(fn: GhostlessFunction) {
    const connections = Stack.of(this).formatArn({
      service: 'execute-api',
      resource: this.api.apiId,
      resourceName: `${STAGE}/POST/@connections/*`,
    });
    fn.allowPushTo(this.stage.callbackUrl, connections);
  }
}
