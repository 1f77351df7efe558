import { createHash } from 'node:crypto';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { PushStore, StoredPushSubscription } from '../../domain/push-notifications';
import { PUSH, pushKey, userPartition } from './keys';
import type { Table } from './table';

/** A device not seen again (the SPA stores its subscription anew on every visit) is forgotten after this. */
const PUSH_TTL_DAYS = 180;

/** The user's push subscriptions: one item per device under the user's partition, keyed by a hash of its endpoint. */
export class DynamoPushStore implements PushStore {
  constructor(private readonly table: Table) {}

  async pushSubscriptions(userId: string) {
    const items = await this.table.queryPages({
      KeyConditionExpression: 'pk = :user AND begins_with(sk, :push)',
      ExpressionAttributeValues: { ':user': userPartition(userId), ':push': PUSH },
    });
    return items.map(({ endpoint, keys, lang, createdAt }) => ({ endpoint, keys, lang, createdAt }) as StoredPushSubscription);
  }

  async putPushSubscription(userId: string, subscription: StoredPushSubscription) {
    const ttl = Math.floor(Date.now() / 1000) + PUSH_TTL_DAYS * 86_400;
    await this.table.doc.send(
      new PutCommand({
        TableName: this.table.name,
        Item: { ...pushKey(userId, endpointHash(subscription.endpoint)), ...subscription, ttl },
      }),
    );
  }

  async deletePushSubscription(userId: string, endpoint: string) {
    await this.table.doc.send(new DeleteCommand({ TableName: this.table.name, Key: pushKey(userId, endpointHash(endpoint)) }));
  }
}

const endpointHash = (endpoint: string) => createHash('sha256').update(endpoint).digest('base64url');
