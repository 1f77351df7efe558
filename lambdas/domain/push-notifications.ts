import type { JobRecord } from './jobs';
import type { Clock } from './ports';
import { type PushLang, type PushSubscriptionInput, parseEndpoint, parsePushSubscription, pushEndpointAllowed } from './push-subscription';

/** Devices one user may have subscribed at once; a new one beyond this replaces the oldest. */
const MAX_PUSH_DEVICES = 5;

export interface StoredPushSubscription extends PushSubscriptionInput {
  createdAt: string;
}

/** The user's subscriptions in the table. */
export interface PushStore {
  pushSubscriptions(userId: string): Promise<StoredPushSubscription[]>;
  putPushSubscription(userId: string, subscription: StoredPushSubscription): Promise<void>;
  deletePushSubscription(userId: string, endpoint: string): Promise<void>;
}

/** Web Push (VAPID + RFC 8291): `gone` when the push service says the subscription no longer exists (404/410). */
export interface PushSender {
  publicKey(): Promise<string>;
  send(subscription: PushSubscriptionInput, payload: string): Promise<'sent' | 'gone'>;
}

export interface PushMessage {
  jobId: string;
  status: JobRecord['status'];
  title: string;
  body: string;
}

const TEXT: Record<PushLang, { ready: [string, string]; failed: [string, string]; refunded: string }> = {
  'pt-BR': {
    ready: ['Seu resultado está pronto', 'Toque para ver e baixar.'],
    failed: ['Não foi possível concluir', 'Toque para ver o que aconteceu.'],
    refunded: 'Seus créditos foram devolvidos. Toque para ver o que aconteceu.',
  },
  en: {
    ready: ['Your result is ready', 'Tap to view and download it.'],
    failed: ['This one could not be finished', 'Tap to see what happened.'],
    refunded: 'Your credits were returned. Tap to see what happened.',
  },
};

/** What the notification says about a job that ended, in the user's language. */
export function pushMessage(job: Pick<JobRecord, 'jobId' | 'status' | 'refunded'>, lang: PushLang): PushMessage {
  const text = TEXT[lang];
  if (job.status === 'succeeded') return { jobId: job.jobId, status: job.status, title: text.ready[0], body: text.ready[1] };
  return { jobId: job.jobId, status: job.status, title: text.failed[0], body: job.refunded ? text.refunded : text.failed[1] };
}

export interface PushDeps {
  store: PushStore;
  sender: PushSender;
  clock: Clock;
  /** Origins allowed besides the known push services (the local stack's tests). */
  extraOrigins: readonly string[];
  log(message: string, fields: Record<string, unknown>): void;
}

/** Subscriptions per user, and the notification sent when a job ends. */
export function pushNotifications({ store, sender, clock, extraOrigins, log }: PushDeps) {
  async function subscribe(userId: string, body: unknown) {
    const subscription = parsePushSubscription(body, extraOrigins);
    await store.putPushSubscription(userId, { ...subscription, createdAt: clock.now().toISOString() });
    const all = await store.pushSubscriptions(userId);
    const oldest = all.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(MAX_PUSH_DEVICES);
    await Promise.all(oldest.map((s) => store.deletePushSubscription(userId, s.endpoint)));
    return { subscribed: true };
  }

  async function unsubscribe(userId: string, body: unknown) {
    await store.deletePushSubscription(userId, parseEndpoint(body));
    return { subscribed: false };
  }

  /**
   * Called after a job's terminal state is committed. Best effort: it never throws, each send is bounded by the
   * sender's timeout, and a subscription the push service no longer knows is removed. Cancels are the user's own
   * doing, in the app: they are not announced.
   */
  async function jobEnded(job: JobRecord) {
    if (job.status !== 'succeeded' && job.status !== 'failed') return;
    try {
      const subscriptions = await store.pushSubscriptions(job.userId);
      await Promise.all(
        subscriptions
          .filter((s) => pushEndpointAllowed(s.endpoint, extraOrigins))
          .map(async (s) => {
            try {
              const outcome = await sender.send(s, JSON.stringify(pushMessage(job, s.lang)));
              if (outcome === 'gone') await store.deletePushSubscription(job.userId, s.endpoint);
            } catch (error) {
              log('push not delivered', { jobId: job.jobId, host: new URL(s.endpoint).host, error: (error as Error).message });
            }
          }),
      );
    } catch (error) {
      log('push skipped', { jobId: job.jobId, error: (error as Error).message });
    }
  }

  return { subscribe, unsubscribe, jobEnded, publicKey: async () => ({ publicKey: await sender.publicKey() }) };
}
