import { MB } from '../../lambdas/domain/catalog';
import type { JobErrorCode } from '../../lambdas/domain/errors';
import { ApiError, type Job } from './api';
import { h } from './dom';
import { lang, t } from './i18n';
import { UploadError } from './upload';

/** Errors, outcomes and prices in the user's words. */

/** Rejected at admission: created failed, never debited. */
const NOT_CHARGED: JobErrorCode[] = ['INSUFFICIENT_CREDITS', 'USER_BUSY', 'INVALID_INPUT'];

export const TYPE_NAMES: Record<string, string> = {
  'image/jpeg': 'JPEG',
  'image/png': 'PNG',
  'image/webp': 'WebP',
  'video/mp4': 'MP4',
  'video/quicktime': 'MOV',
};

export function slotLabel(slot: string) {
  return t().slotName[slot] ?? slot;
}

/** A 4xx from the API (or the same check run here first) in the user's language. */
export function describeError(code: string, message: string, details: Record<string, unknown>): string {
  const text = t();
  const slot = typeof details.slot === 'string' ? slotLabel(details.slot) : '';
  switch (code) {
    case 'UNSUPPORTED_MEDIA_TYPE': {
      if (lang() === 'en') return message;
      const accepted = Array.isArray(details.accepted) ? details.accepted.map((a) => TYPE_NAMES[String(a)] ?? String(a)) : [];
      const type = /^"([^"]*)"/.exec(message)?.[1] ?? '';
      const list = accepted.length > 1 ? `${accepted.slice(0, -1).join(', ')} ${text.or} ${accepted.at(-1)}` : accepted.join('');
      return text.errUnsupported(type, slot, list);
    }
    case 'FILE_TOO_LARGE':
      return lang() === 'en' ? message : text.errTooLarge(slot, Math.round(Number(details.limit) / MB));
    case 'INSUFFICIENT_CREDITS':
      return text.errInsufficient(Number(details.cost), Number(details.balance));
    case 'INVALID_REQUEST':
      return text.errInvalidRequest(message);
    case 'NETWORK':
      return text.errNetwork;
    case 'JOB_FINISHED':
      return text.errJobFinished;
    case 'NOT_FOUND':
      return text.errNotFound;
    case 'UNAUTHORIZED':
      return text.sessionExpired;
    default:
      return text.errServer;
  }
}

export function describeApiError(error: unknown) {
  if (error instanceof ApiError) return describeError(error.code, error.message, error.body);
  return t().errServer;
}

export function describeUploadError(error: unknown) {
  const text = t();
  // A resumable upload's completion is an API answer (PARTS_MISSING, SIZE_MISMATCH, UPLOAD_GONE): its own sentence.
  if (error instanceof ApiError && error.code !== 'NETWORK') return text.uploadFailed(error.message);
  if (!(error instanceof UploadError)) return text.uploadFailed(text.uploadNetwork);
  if (error.code === 'aborted') return text.uploadCancelled;
  if (error.code === 'network') return text.uploadFailed(text.uploadNetwork);
  const reason = /expired/i.test(error.message) ? text.uploadExpired : text.uploadRejected;
  return text.uploadFailed(`${reason} (${error.code}: ${error.message})`);
}

export function statusBadge(job: Job) {
  return h('span', { class: `badge status-${job.status}`, 'data-testid': 'status' }, t().status[job.status]);
}

export function costText(job: Job) {
  const text = t();
  if (job.error && NOT_CHARGED.includes(job.error.code)) return text.costNotCharged;
  return job.refunded ? text.costRefunded(job.creditCost) : text.costCharged(job.creditCost);
}

/** The error in plain words, and what happened to the credits. */
export function outcomeText(job: Job): string {
  const text = t();
  const parts: string[] = [];
  if (job.error) parts.push(text.jobError[job.error.code] ?? text.errServer);
  if (job.error && NOT_CHARGED.includes(job.error.code)) parts.push(text.notCharged);
  else if (job.refunded) parts.push(text.refunded(job.creditCost));
  else if (job.status === 'cancelled') parts.push(text.notRefunded(job.creditCost));
  else if (job.status === 'failed') parts.push(text.notRefundedFailed(job.creditCost));
  return parts.join(' ');
}
