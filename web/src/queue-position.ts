/** What the push channel says when jobs leave the FIFO or come back to it: their queue keys (`createdAt#jobId`). */
export interface QueueMove {
  left: string[];
  joined: string[];
}

/**
 * A queued job's exact position after a queue move, computed here instead of read: each job that left from ahead
 * of it moves it up one, each that came back ahead of it moves it down one. Keys compare as the server's FIFO does.
 */
export function movedPosition(job: { jobId: string; createdAt: string; status: string; position: number | null }, move: QueueMove) {
  if (job.status !== 'queued' || job.position === null) return job.position;
  const mine = `${job.createdAt}#${job.jobId}`;
  const ahead = (keys: string[]) => keys.filter((key) => key < mine).length;
  return Math.max(1, job.position - ahead(move.left) + ahead(move.joined));
}
