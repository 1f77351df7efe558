import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CODES } from '../../lambdas/adapters/runninghub-protocol';
import type { ToolId } from '../../lambdas/domain/catalog';
import { errorText, runWorkflow, type TaskInput } from './run-workflow';
import { WorkflowError } from './transform';

/**
 * The local provider's tasks, as RunningHub's public API describes them: QUEUED for a moment, then RUNNING
 * while the workflow really runs (about `latencyMs`), then SUCCESS or FAILED and a TASK_END webhook, retried
 * minutes apart (scaled by `webhookRetryDelaysMs`) until the receiver answers 200.
 */

export type TaskStatus = 'QUEUED' | 'RUNNING' | 'SUCCESS' | 'FAILED' | 'CANCELLED';

export interface OutputItem {
  fileUrl: string;
  fileType: string;
  taskCostTime: string;
  consumeCoins: string;
  nodeId: string;
}

/** ComfyUI's exception record as RunningHub returns it in `data.failedReason` with code 805: every field a string. */
interface FailedReason {
  node_id: string;
  node_name: string;
  exception_type: string;
  exception_message: string;
  traceback: string;
  current_inputs: string;
  current_outputs: string;
}

interface Task {
  taskId: string;
  tool: ToolId;
  params: Record<string, string | number>;
  inputs: Record<string, TaskInput>;
  webhookUrl: string | undefined;
  status: TaskStatus;
  hanging: boolean;
  outputs: OutputItem[];
  failedReason: FailedReason | null;
  createdAt: Date;
  endedAt: Date | null;
  webhook: { attempts: number; delivered: boolean; lastBody: string | null };
  abort: AbortController;
  settled: Promise<void>;
  settle: () => void;
}

export interface LocalTaskSnapshot {
  taskId: string;
  tool: ToolId;
  status: TaskStatus;
  /** Made to never end by `hangNextTask()`. */
  hanging: boolean;
  params: Record<string, string | number>;
  webhookUrl: string | undefined;
  outputs: OutputItem[];
  failedReason: string | null;
  createdAt: string;
  endedAt: string | null;
  webhook: { attempts: number; delivered: boolean; lastBody: string | null };
}

export interface RunnerOptions {
  latencyMs: number;
  /** How long a new task stays QUEUED before it runs. */
  queueMs: number;
  failRate: number;
  /** Command to run, or null when ffmpeg is not available. */
  ffmpeg: string | null;
  webhookRetryDelaysMs: number[];
  outputsDir: string;
  /** Where output URLs point: `${publicUrl}/files/<name>`. Set once the server listens. */
  publicUrl: string;
}

const OUTPUT_NODE = '99';
const WEBHOOK_TIMEOUT_MS = 5_000;

export class TaskRunner {
  readonly #tasks = new Map<string, Task>();
  readonly #stopping = new AbortController();
  #sequence = 0;
  #hangNext = false;

  constructor(readonly options: RunnerOptions) {}

  /** Tasks holding one of the key's slots (queued or running). A hung task keeps its slot, as a stuck real one would. */
  activeCount() {
    let count = 0;
    for (const task of this.#tasks.values()) if (isActive(task.status)) count++;
    return count;
  }

  hangNextTask() {
    this.#hangNext = true;
  }

  start(tool: ToolId, params: Task['params'], inputs: Task['inputs'], webhookUrl: string | undefined): string {
    const taskId = `${Date.now()}${String(++this.#sequence).padStart(6, '0')}`;
    let settle = () => {};
    const settled = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const task: Task = {
      taskId,
      tool,
      params,
      inputs,
      webhookUrl,
      // A hung task got a machine and then stalled: it shows (and holds its slot) as RUNNING.
      status: this.#hangNext ? 'RUNNING' : 'QUEUED',
      hanging: this.#hangNext,
      outputs: [],
      failedReason: null,
      createdAt: new Date(),
      endedAt: null,
      webhook: { attempts: 0, delivered: false, lastBody: null },
      abort: new AbortController(),
      settled,
      settle,
    };
    this.#hangNext = false;
    this.#tasks.set(taskId, task);
    if (!task.hanging) void this.#run(task);
    return taskId;
  }

  /** What `/task/openapi/outputs` answers, or null for an unknown task. */
  outputsReply(taskId: string) {
    const task = this.#tasks.get(taskId);
    return task ? outputsReply(task) : null;
  }

  status(taskId: string): TaskStatus | null {
    return this.#tasks.get(taskId)?.status ?? null;
  }

  /** Cancels a queued or running task; an unknown or ended one cannot be cancelled (RunningHub's 807). */
  cancel(taskId: string): 'cancelled' | 'not-cancellable' {
    const task = this.#tasks.get(taskId);
    if (!task || !isActive(task.status)) return 'not-cancellable';
    task.abort.abort();
    this.#end(task, 'CANCELLED', [], failure(task, 'InterruptedError', 'The task was cancelled'));
    task.settle();
    return 'cancelled';
  }

  snapshot(): LocalTaskSnapshot[] {
    return [...this.#tasks.values()].map(snapshotOf);
  }

  /** Resolves when the task has ended and its webhook has been delivered or given up on. */
  async ended(taskId: string): Promise<LocalTaskSnapshot> {
    const task = this.#tasks.get(taskId);
    if (!task) throw new Error(`Unknown local task ${taskId}`);
    await task.settled;
    return snapshotOf(task);
  }

  /** Stops every task and webhook without calling back. */
  stop() {
    this.#stopping.abort();
    for (const task of this.#tasks.values()) {
      task.abort.abort();
      task.settle();
    }
  }

  async #run(task: Task) {
    const signal = task.abort.signal;
    try {
      await sleep(this.options.queueMs, undefined, { signal });
    } catch {
      return; // cancelled while queued
    }
    task.status = 'RUNNING';
    const injectedFailure = Math.random() < this.options.failRate;
    // Work and latency overlap: the task lasts about latencyMs, or longer if the work itself is slower.
    const work = injectedFailure
      ? Promise.resolve(null)
      : runWorkflow(task, this.options.ffmpeg, signal).then(
          (outputs) => ({ outputs }),
          (error: unknown) => ({ error }),
        );
    const started = Date.now();
    try {
      await sleep(jitter(this.options.latencyMs), undefined, { signal });
    } catch {
      return; // cancelled or stopping: no outcome, no webhook
    }
    const result = await work;
    if (signal.aborted || !isActive(task.status)) return;
    const costSeconds = String(Math.max(1, Math.round((Date.now() - started) / 1000)));
    if (!result) {
      this.#end(task, 'FAILED', [], failure(task, 'RuntimeError', `Injected failure (failRate=${this.options.failRate})`));
    } else if ('error' in result) {
      const message = result.error instanceof WorkflowError ? result.error.message : `The workflow failed: ${errorText(result.error)}`;
      this.#end(task, 'FAILED', [], failure(task, result.error instanceof WorkflowError ? 'WorkflowError' : 'RuntimeError', message));
    } else {
      const outputs = await Promise.all(
        result.outputs.map(async (output, index) => {
          const name = `${task.taskId}-${index}.${output.fileType}`;
          await writeFile(join(this.options.outputsDir, name), output.data);
          return {
            fileUrl: `${this.options.publicUrl}/files/${name}`,
            fileType: output.fileType,
            taskCostTime: costSeconds,
            consumeCoins: '0',
            nodeId: OUTPUT_NODE,
          };
        }),
      ).catch(() => null);
      if (outputs) this.#end(task, 'SUCCESS', outputs, null);
      else this.#end(task, 'FAILED', [], failure(task, 'OSError', 'The local provider could not store the output'));
    }
    await this.#deliverWebhook(task);
    task.settle();
  }

  #end(task: Task, status: TaskStatus, outputs: OutputItem[], failedReason: FailedReason | null) {
    task.status = status;
    task.outputs = outputs;
    task.failedReason = failedReason;
    task.endedAt = new Date();
  }

  /** RunningHub's TASK_END callback: retried after each pause of `webhookRetryDelaysMs` until answered 200, then it gives up. */
  async #deliverWebhook(task: Task) {
    if (!task.webhookUrl) return;
    const body = JSON.stringify({ event: 'TASK_END', taskId: task.taskId, eventData: JSON.stringify(outputsReply(task)) });
    task.webhook.lastBody = body;
    const delays = [0, ...this.options.webhookRetryDelaysMs];
    for (const delay of delays) {
      try {
        if (delay) await sleep(delay, undefined, { signal: this.#stopping.signal });
      } catch {
        return;
      }
      task.webhook.attempts++;
      try {
        const response = await fetch(task.webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.any([this.#stopping.signal, AbortSignal.timeout(WEBHOOK_TIMEOUT_MS)]),
        });
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) {
          task.webhook.delivered = true;
          return;
        }
      } catch {
        // unreachable or slow receiver: try again after the next pause
      }
    }
  }
}

/** What `/task/openapi/outputs` answers for a task; the webhook's `eventData` is the same, as a string. */
function outputsReply(task: Task): { code: number; msg: string; data: unknown } {
  switch (task.status) {
    case 'QUEUED':
      return { code: CODES.APIKEY_TASK_IS_QUEUED, msg: 'APIKEY_TASK_IS_QUEUED', data: null };
    case 'RUNNING':
      return { code: CODES.APIKEY_TASK_IS_RUNNING, msg: 'APIKEY_TASK_IS_RUNNING', data: null };
    case 'SUCCESS':
      return { code: CODES.OK, msg: 'success', data: task.outputs };
    default:
      return { code: CODES.APIKEY_TASK_STATUS_ERROR, msg: 'APIKEY_TASK_STATUS_ERROR', data: { failedReason: task.failedReason } };
  }
}

function failure(task: Task, type: string, message: string): FailedReason {
  return {
    node_id: OUTPUT_NODE,
    node_name: `Local ${task.tool}`,
    exception_type: type,
    exception_message: message,
    traceback: `Traceback (most recent call last):\n  File "execution.py", in execute\n${type}: ${message}`,
    current_inputs: '{}',
    current_outputs: '{}',
  };
}

function isActive(status: TaskStatus) {
  return status === 'QUEUED' || status === 'RUNNING';
}

function snapshotOf(task: Task): LocalTaskSnapshot {
  return {
    taskId: task.taskId,
    tool: task.tool,
    status: task.status,
    hanging: task.hanging,
    params: { ...task.params },
    webhookUrl: task.webhookUrl,
    outputs: task.outputs.map((output) => ({ ...output })),
    failedReason: task.failedReason?.exception_message ?? null,
    createdAt: task.createdAt.toISOString(),
    endedAt: task.endedAt?.toISOString() ?? null,
    webhook: { ...task.webhook },
  };
}

/** ±10% (at most ±250 ms), so concurrent tasks do not all end on the same tick. */
function jitter(ms: number) {
  const spread = Math.min(ms * 0.1, 250);
  return Math.max(0, Math.round(ms + (Math.random() * 2 - 1) * spread));
}
