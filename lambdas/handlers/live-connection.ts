import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { DynamoConnectionStore } from '../adapters/dynamo/connection-store';
import { Table } from '../adapters/dynamo/table';
import { readConnectionConfig } from '../config';
import { eventHandler } from './middleware';

/** A connection lives at most as long as API Gateway keeps one open (2 h); TTL removes one whose $disconnect was lost. */
const CONNECTION_TTL_SECONDS = 2 * 60 * 60;
const connections = new DynamoConnectionStore(
  new Table(DynamoDBDocumentClient.from(new DynamoDBClient({})), readConnectionConfig().tableName, 1),
);

type WebSocketEvent = APIGatewayProxyWebsocketEventV2 & { requestContext: { authorizer?: { userId?: string } } };

/** $connect / $disconnect / $default of the push channel; the user is the one the authorizer let in. */
export const handler = eventHandler(async ({ requestContext }: WebSocketEvent) => {
  const { routeKey, connectionId, authorizer } = requestContext;
  const userId = authorizer?.userId;
  if (!userId) return { statusCode: 401 };
  if (routeKey === '$connect')
    await connections.addConnection(userId, connectionId, Math.floor(Date.now() / 1000) + CONNECTION_TTL_SECONDS);
  if (routeKey === '$disconnect') await connections.removeConnection(userId, connectionId);
  // $default: the browser's keep-alive pings; nothing to do.
  return { statusCode: 200 };
});
