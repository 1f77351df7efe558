import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ConnectionStore } from '../../domain/ports';
import type { Table } from './table';

/** `LIVE#CONN / <userId>#<connectionId>`: one item per open push connection, expiring by TTL (a lost $disconnect). */
const PARTITION = 'LIVE#CONN';

export class DynamoConnectionStore implements ConnectionStore {
  constructor(private readonly table: Table) {}

  async addConnection(userId: string, connectionId: string, expiresAtEpoch: number) {
    await this.table.doc.send(
      new PutCommand({
        TableName: this.table.name,
        Item: { pk: PARTITION, sk: `${userId}#${connectionId}`, userId, connectionId, ttl: expiresAtEpoch },
      }),
    );
  }

  async removeConnection(userId: string, connectionId: string) {
    await this.table.doc.send(new DeleteCommand({ TableName: this.table.name, Key: { pk: PARTITION, sk: `${userId}#${connectionId}` } }));
  }

  async connections(userId?: string) {
    // TTL deletes late (days in AWS, never in DynamoDB Local): an expired item is no connection.
    const items = await this.table.queryPages({
      KeyConditionExpression: userId === undefined ? 'pk = :pk' : 'pk = :pk AND begins_with(sk, :user)',
      FilterExpression: '#ttl > :now',
      ExpressionAttributeNames: { '#ttl': 'ttl' },
      ExpressionAttributeValues: {
        ':pk': PARTITION,
        ':now': Math.floor(Date.now() / 1000),
        ...(userId === undefined ? {} : { ':user': `${userId}#` }),
      },
    });
    return items.map((item) => ({ userId: item.userId as string, connectionId: item.connectionId as string }));
  }
}
