/** Speed over the last few seconds and the time left at that speed; null until there is enough to say. */
export function speedMeter(now = () => performance.now()) {
  const WINDOW_MS = 5000;
  const samples: { at: number; loaded: number }[] = [];
  return (loaded: number, total: number): { speed: number | null; secondsLeft: number | null } => {
    const at = now();
    samples.push({ at, loaded });
    while (samples.length > 2 && at - (samples[0] as { at: number }).at > WINDOW_MS) samples.shift();
    const first = samples[0] as { at: number; loaded: number };
    const seconds = (at - first.at) / 1000;
    if (seconds < 0.5) return { speed: null, secondsLeft: null };
    const speed = Math.max(0, (loaded - first.loaded) / seconds);
    return { speed, secondsLeft: speed > 0 ? (total - loaded) / speed : null };
  };
}
