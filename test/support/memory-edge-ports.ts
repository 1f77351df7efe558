/**
 * In-memory ports at the domain's edges, for the domain unit suite: S3 multipart uploads, the push subscription
 * table with its Web Push sender, and the live channel. Each records what the domain asked of it, in order.
 */
import type { StoredPart } from '../../lambdas/domain/multipart';
import type { LiveChannel, LiveEvent, MultipartFiles } from '../../lambdas/domain/ports';
import type { PushSender, PushStore, StoredPushSubscription } from '../../lambdas/domain/push-notifications';
import type { PushSubscriptionInput } from '../../lambdas/domain/push-subscription';

interface MemoryUpload {
  key: string;
  contentType: string;
  parts: Map<number, StoredPart>;
}

/** S3 multipart uploads: upload ids `upload-1`, `upload-2`…; a completed or aborted upload is gone (listParts → null). */
export class MemoryMultipart implements MultipartFiles {
  readonly uploads = new Map<string, MemoryUpload>();
  readonly presigned: { key: string; uploadId: string; partNumber: number; length: number; expiresInSeconds: number }[] = [];
  readonly completed: { key: string; uploadId: string; parts: StoredPart[] }[] = [];
  readonly aborted: { key: string; uploadId: string }[] = [];

  async create(key: string, contentType: string) {
    const uploadId = `upload-${this.uploads.size + 1}`;
    this.uploads.set(uploadId, { key, contentType, parts: new Map() });
    return uploadId;
  }

  async presignPart(key: string, uploadId: string, partNumber: number, length: number, expiresInSeconds: number) {
    this.presigned.push({ key, uploadId, partNumber, length, expiresInSeconds });
    return `memory://parts/${key}?uploadId=${uploadId}&partNumber=${partNumber}&length=${length}`;
  }

  async listParts(key: string, uploadId: string) {
    const upload = this.uploads.get(uploadId);
    if (upload?.key !== key) return null;
    return [...upload.parts.values()].sort((a, b) => a.partNumber - b.partNumber).map((part) => ({ ...part }));
  }

  async complete(key: string, uploadId: string, parts: readonly StoredPart[]) {
    this.completed.push({ key, uploadId, parts: parts.map((part) => ({ ...part })) });
    this.uploads.delete(uploadId);
  }

  async abort(key: string, uploadId: string) {
    this.aborted.push({ key, uploadId });
    this.uploads.delete(uploadId);
  }

  /** Test helper: the browser sent part `partNumber` with `size` bytes (a part sent again replaces the first). */
  storePart(uploadId: string, partNumber: number, size: number) {
    const upload = this.uploads.get(uploadId);
    if (!upload) throw new Error(`no upload ${uploadId}`);
    upload.parts.set(partNumber, { partNumber, size, etag: `"etag-${partNumber}-${size}"` });
  }
}

/** The push subscriptions table: one item per user and endpoint (a put on the same endpoint replaces it). */
export class MemoryPushStore implements PushStore {
  readonly items = new Map<string, Map<string, StoredPushSubscription>>();
  readonly deleted: { userId: string; endpoint: string }[] = [];
  /** When set, reading a user's subscriptions throws it (a DynamoDB outage). */
  readError: Error | null = null;

  async pushSubscriptions(userId: string) {
    if (this.readError) throw this.readError;
    return [...(this.items.get(userId)?.values() ?? [])].map((item) => structuredClone(item));
  }

  async putPushSubscription(userId: string, subscription: StoredPushSubscription) {
    const mine = this.items.get(userId) ?? new Map<string, StoredPushSubscription>();
    mine.set(subscription.endpoint, structuredClone(subscription));
    this.items.set(userId, mine);
  }

  async deletePushSubscription(userId: string, endpoint: string) {
    this.deleted.push({ userId, endpoint });
    this.items.get(userId)?.delete(endpoint);
  }

  /** Test helper: the endpoints a user has subscribed, in endpoint order. */
  endpoints(userId: string) {
    return [...(this.items.get(userId)?.keys() ?? [])].sort();
  }
}

/** Web Push: answers what `outcomes` says for an endpoint (`sent` otherwise); an Error there is thrown. */
export class MemoryPushSender implements PushSender {
  readonly sent: { endpoint: string; payload: unknown }[] = [];
  readonly outcomes = new Map<string, 'sent' | 'gone' | Error>();

  async publicKey() {
    return 'BPublicKeyOfTheServer';
  }

  async send(subscription: PushSubscriptionInput, payload: string) {
    const outcome = this.outcomes.get(subscription.endpoint) ?? 'sent';
    if (outcome instanceof Error) throw outcome;
    this.sent.push({ endpoint: subscription.endpoint, payload: JSON.parse(payload) });
    return outcome;
  }
}

/** The WebSocket API: records every event sent; `failWith` makes the next sends throw. */
export class MemoryLiveChannel implements LiveChannel {
  readonly toUsers: { userId: string; event: LiveEvent }[] = [];
  readonly broadcasts: LiveEvent[] = [];
  failWith: Error | null = null;

  async toUser(userId: string, event: LiveEvent) {
    if (this.failWith) throw this.failWith;
    this.toUsers.push({ userId, event: structuredClone(event) });
  }

  async toEveryone(event: LiveEvent) {
    if (this.failWith) throw this.failWith;
    this.broadcasts.push(structuredClone(event));
  }
}
