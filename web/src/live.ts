import type { Job } from './api';
import type { QueueMove } from './queue-position';

/** What the server pushes (lambdas/domain/ports.ts `LiveEvent`): a job's outputs come without download links. */
export type LiveMessage = { type: 'job'; job: Omit<Job, 'outputs'> & { outputs: unknown[] } } | ({ type: 'queue' } & QueueMove);

export interface LiveHandlers {
  message(message: LiveMessage): void;
  /** The socket opened (true) or dropped (false): polling slows down or speeds up with it. */
  status(connected: boolean): void;
}

/** API Gateway drops a WebSocket idle for 10 minutes: a ping every 5 keeps it. */
const PING_MS = 5 * 60_000;
const MAX_BACKOFF_MS = 30_000;

/**
 * The push channel: one WebSocket while a job is followed, the user's token as `?token=` (browsers cannot set
 * headers on it), reconnected with jittered backoff until closed.
 */
export class LiveConnection {
  private socket: WebSocket | null = null;
  private wanted = false;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  connected = false;

  constructor(
    private readonly url: string,
    private readonly token: () => Promise<string | null>,
    private readonly handlers: LiveHandlers,
  ) {}

  open() {
    if (this.wanted) return;
    this.wanted = true;
    void this.connect();
  }

  close() {
    this.wanted = false;
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
    this.setConnected(false);
  }

  private async connect() {
    const token = await this.token().catch(() => null);
    if (!this.wanted || this.socket) return;
    if (!token) return this.retry();
    const socket = new WebSocket(`${absolute(this.url)}?token=${encodeURIComponent(token)}`);
    this.socket = socket;
    let ping: ReturnType<typeof setInterval> | undefined;
    socket.onopen = () => {
      this.attempt = 0;
      ping = setInterval(() => socket.send('ping'), PING_MS);
      this.setConnected(true);
    };
    socket.onmessage = (event) => {
      try {
        this.handlers.message(JSON.parse(String(event.data)) as LiveMessage);
      } catch {
        /* not an event of ours */
      }
    };
    socket.onclose = () => {
      clearInterval(ping);
      if (this.socket !== socket) return;
      this.socket = null;
      this.setConnected(false);
      if (this.wanted) this.retry();
    };
  }

  private retry() {
    const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
    this.timer = setTimeout(() => void this.connect(), delay);
  }

  private setConnected(connected: boolean) {
    if (this.connected === connected) return;
    this.connected = connected;
    this.handlers.status(connected);
  }
}

/** `/live` on this origin (the local stack), or the configured `wss://…` URL (AWS). */
function absolute(url: string) {
  if (/^wss?:\/\//.test(url)) return url;
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${url}`;
}
