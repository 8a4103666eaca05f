/**
 * A time series of bounded size for runs of any length: it keeps every `stride`-th point offered, and
 * when full it drops every other point it holds and doubles the stride. The whole run stays visible
 * at an even resolution, in at most `capacity` points.
 */
export class DownsampledHistory<T> {
  private points: T[] = [];
  private stride = 1;
  private offered = 0;

  constructor(private readonly capacity = 600) {
    if (capacity < 2) throw new RangeError('capacity must be at least 2');
  }

  add(point: T): void {
    if (this.offered++ % this.stride !== 0) return;
    this.points.push(point);
    if (this.points.length > this.capacity) {
      this.points = this.points.filter((_, i) => i % 2 === 0);
      this.stride *= 2;
    }
  }

  all(): readonly T[] {
    return this.points;
  }
}
