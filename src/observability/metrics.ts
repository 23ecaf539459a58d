// Request counters and latency sums in the Prometheus text format, for GET /metrics.

/** Series kept at most: labels come from closed sets, and this bounds /metrics whatever happens. */
const MAX_SERIES = 2_000;
/** Where requests beyond MAX_SERIES are counted. */
const OVERFLOW = `other\u0000other`;

/** A label value in the exposition format: backslash, double quote and line feed escaped. */
const escapeLabel = (value: string): string => value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));

export class Metrics {
  readonly #requests = new Map<string, { count: number; seconds: number }>();
  readonly #gauges = new Map<string, () => number>();

  /** Counts one finished request of `operation` that answered `code` ('ok' or an error code). */
  observe(operation: string, code: string, seconds: number): void {
    let id = `${operation}\u0000${code}`;
    if (!this.#requests.has(id) && this.#requests.size >= MAX_SERIES) id = OVERFLOW;
    const entry = this.#requests.get(id);
    if (entry) {
      entry.count++;
      entry.seconds += seconds;
    } else {
      this.#requests.set(id, { count: 1, seconds });
    }
  }

  gauge(name: string, read: () => number): void {
    this.#gauges.set(name, read);
  }

  render(): string {
    const lines = [
      '# HELP keysafe_requests_total Requests answered, by operation and result code.',
      '# TYPE keysafe_requests_total counter',
    ];
    const durations = [
      '# HELP keysafe_request_duration_seconds_sum Time spent answering requests, by operation and result code.',
      '# TYPE keysafe_request_duration_seconds_sum counter',
    ];
    for (const [id, { count, seconds }] of this.#requests) {
      const [op, code] = id.split('\u0000');
      const labels = `{operation="${escapeLabel(op!)}",code="${escapeLabel(code!)}"}`;
      lines.push(`keysafe_requests_total${labels} ${count}`);
      durations.push(`keysafe_request_duration_seconds_sum${labels} ${seconds.toFixed(6)}`);
    }
    const gauges = [...this.#gauges].flatMap(([name, read]) => [`# TYPE ${name} gauge`, `${name} ${read()}`]);
    return `${[...lines, ...durations, ...gauges].join('\n')}\n`;
  }
}
