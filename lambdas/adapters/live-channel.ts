import { type ApiGatewayManagementApiClient, GoneException, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { ConnectionStore, LiveChannel, LiveEvent } from '../domain/ports';

/** Posts at once to this many connections; a broadcast to thousands goes in waves. */
const FAN_OUT = 32;

/** The push channel over an API Gateway WebSocket API: PostToConnection per open connection; a Gone one is forgotten. */
export class ApiGatewayLiveChannel implements LiveChannel {
  constructor(
    private readonly client: ApiGatewayManagementApiClient,
    private readonly connections: ConnectionStore,
  ) {}

  async toUser(userId: string, event: LiveEvent) {
    await this.post(await this.connections.connections(userId), event);
  }

  async toEveryone(event: LiveEvent) {
    await this.post(await this.connections.connections(), event);
  }

  private async post(targets: { userId: string; connectionId: string }[], event: LiveEvent) {
    const Data = new TextEncoder().encode(JSON.stringify(event));
    const failures: unknown[] = [];
    for (let i = 0; i < targets.length; i += FAN_OUT) {
      await Promise.all(
        targets.slice(i, i + FAN_OUT).map(async ({ userId, connectionId }) => {
          try {
            await this.client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data }));
          } catch (error) {
            // 410: the browser left without a $disconnect reaching us.
            if (error instanceof GoneException) await this.connections.removeConnection(userId, connectionId);
            else failures.push(error);
          }
        }),
      );
    }
    // Every connection was tried; one that failed is reported, not retried (its client's slow poll catches up).
    if (failures.length > 0) throw failures[0];
  }
}
