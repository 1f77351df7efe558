import { isTerminal } from '../../../lambdas/domain/jobs';
import type { Api } from '../api';
import { lang } from '../i18n';

/** True when this browser can receive a notification from the installed app (and the user has not said no). */
export const canPush = () =>
  'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window && Notification.permission !== 'denied';

const fromBase64Url = (text: string) => {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
};

/**
 * This device's Web Push subscription: made only after the user tapped "Notify me" and granted permission, stored
 * with the API in the language the user reads. Resolves to whether the device is subscribed.
 */
export function pushFlow(api: Api) {
  async function subscribe(): Promise<boolean> {
    if ((await Notification.requestPermission()) !== 'granted') return false;
    const registration = await navigator.serviceWorker.ready;
    const existing = await registration.pushManager.getSubscription();
    const subscription =
      existing ??
      (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: fromBase64Url(await api.pushKey()) }));
    await api.savePush({ ...subscription.toJSON(), lang: lang() });
    return true;
  }

  /** Already allowed and subscribed (an earlier visit): stored again, so the language and the expiry are current. */
  async function refresh(): Promise<boolean> {
    if (!canPush() || Notification.permission !== 'granted') return false;
    const subscription = await (await navigator.serviceWorker.ready).pushManager.getSubscription();
    if (!subscription) return false;
    await api.savePush({ ...subscription.toJSON(), lang: lang() });
    return true;
  }

  return { subscribe, refresh };
}

/** The job the offer is about: one sent and not yet ended. */
export const waitingJobId = (phase: {
  kind: string;
  jobId?: string;
  job?: { jobId: string; status: Parameters<typeof isTerminal>[0] };
}) => {
  if (phase.kind === 'creating') return phase.jobId ?? null;
  if (phase.kind === 'job' && phase.job && !isTerminal(phase.job.status)) return phase.job.jobId;
  return null;
};
