import { InvalidRequest, ProviderBusy, ProviderFailed } from '../domain/errors';
import { transientError } from './retry';

/**
 * RunningHub's wire protocol, as its public documentation gives it: business codes, what each means to Ghostless,
 * the `{code, msg, data}` envelope, task ids kept exact, the webhook's body and 805's failure reasons.
 */

/** RunningHub business codes this adapter (and the local provider) speak. */
export const CODES = {
  OK: 0,
  PARAMS_INVALID: 301,
  WORKFLOW_NOT_EXISTS: 380,
  TOKEN_INVALID: 412,
  TASK_INSTANCE_MAXED: 415,
  TASK_CREATE_FAILED_BY_NOT_ENOUGH_WALLET: 416,
  TASK_QUEUE_MAXED: 421,
  TASK_NOT_FOUNED: 423,
  VALIDATE_PROMPT_FAILED: 433,
  UNKNOWN_ERROR: 500,
  APIKEY_UNSUPPORTED_FREE_USER: 801,
  APIKEY_UNAUTHORIZED: 802,
  APIKEY_INVALID_NODE_INFO: 803,
  APIKEY_TASK_IS_RUNNING: 804,
  APIKEY_TASK_STATUS_ERROR: 805,
  APIKEY_TASK_NOT_FOUND: 807,
  APIKEY_UPLOAD_FAILED: 808,
  APIKEY_FILE_SIZE_EXCEEDED: 809,
  APIKEY_TASK_IS_QUEUED: 813,
} as const;

/** The account (421) or the dedicated instances (415) are at capacity: the same request may pass later. */
const BUSY_CODES: ReadonlySet<number> = new Set([CODES.TASK_QUEUE_MAXED, CODES.TASK_INSTANCE_MAXED]);
/** Server-side hiccups RunningHub documents as "retry": treated like a network error. */
const TRANSIENT_CODES: ReadonlySet<number> = new Set([CODES.UNKNOWN_ERROR, CODES.APIKEY_UPLOAD_FAILED]);
/** Answers to `cancel` that mean "nothing left to stop". */
export const ALREADY_ENDED_CODES: ReadonlySet<number> = new Set([
  CODES.APIKEY_TASK_NOT_FOUND,
  CODES.TASK_NOT_FOUNED,
  CODES.APIKEY_TASK_STATUS_ERROR,
]);

/** RunningHub's upload endpoint refuses files over 30 MB (decimal: 809 above 30,000,000 bytes); larger inputs go by URL. */
export const UPLOAD_LIMIT_BYTES = 30_000_000;

export interface Envelope {
  code: number;
  msg: string;
  data: unknown;
  /** The raw body, for ids too long to survive JSON.parse as numbers. */
  raw: string;
}

/** The error for a non-zero business code: busy → ProviderBusy, server hiccup → Error, anything else → ProviderFailed. */
export function businessError(operation: string, code: number, msg: string): Error {
  const text = `RunningHub ${operation}: ${code} ${msg}`.trim();
  if (BUSY_CODES.has(code)) return new ProviderBusy(text);
  if (TRANSIENT_CODES.has(code)) return transientError(text, { answered: true });
  return new ProviderFailed(text);
}

/** A readable sentence from 805's `failedReason` (a ComfyUI exception object, or sometimes a plain string). */
export function describeFailure(failedReason: unknown, fallback: string): string {
  let text = fallback;
  if (typeof failedReason === 'string' && failedReason.trim()) text = failedReason.trim();
  else if (failedReason && typeof failedReason === 'object') {
    const r = failedReason as Record<string, unknown>;
    const str = (value: unknown) => (typeof value === 'string' || typeof value === 'number' ? String(value).trim() : '');
    const type = str(r.exception_type);
    const message = str(r.exception_message) || type;
    const node = str(r.node_name) && `node ${str(r.node_name)}${str(r.node_id) && ` #${str(r.node_id)}`}`;
    const where = [type !== message ? type : '', node].filter(Boolean).join(' in ');
    if (message) text = where ? `${message} (${where})` : message;
  }
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}

/** `data.taskId` of an answer. */
export function readTaskId(reply: Envelope): string | null {
  return taskIdText((reply.data as { taskId?: unknown } | null)?.taskId, reply.raw);
}

/**
 * A taskId as text. RunningHub's ids are 19 digits: sent as a JSON number, JSON.parse rounds them to the nearest
 * double (another task's id), so the digits are read from the raw text instead. (An escaped `\"taskId\"` inside a
 * string field such as the webhook's `eventData` does not match.)
 */
function taskIdText(value: unknown, raw: string): string | null {
  if (typeof value === 'string' && value) return value;
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return String(value);
    return /"taskId"\s*:\s*(\d+)/.exec(raw)?.[1] ?? null;
  }
  return null;
}

/**
 * The webhook's body (`{event: "TASK_END", taskId, eventData}`), parsed with its taskId kept exact as text;
 * anything that is not a JSON object is passed on as it is, for the domain to turn away.
 */
export function parseWebhook(raw: string): unknown {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new InvalidRequest('The body must be valid JSON.');
  }
  if (typeof body !== 'object' || body === null || !('taskId' in body)) return body;
  return { ...body, taskId: taskIdText(body.taskId, raw) ?? body.taskId };
}

export function errorText(error: unknown) {
  if (error instanceof Error) return error.name === 'TimeoutError' ? 'timed out' : error.message;
  return String(error);
}

const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'video/mp4': 'mp4',
  'video/quicktime': 'mov',
};

export function extension(contentType: string) {
  return EXTENSIONS[contentType] ?? 'bin';
}
