// Fans committed secret events out to every watcher: one store read per change, however many watch.
//
// The events table is the truth and the engine's change signal only the doorbell: on each ring
// the feed reads what came after the last cursor it saw and hands it to every subscriber. A new
// subscriber first catches up from its own cursor, with live events buffered meanwhile, so it
// neither misses nor repeats one.
import type { SecretEvent, SecretsStore } from '../secrets/index.js';

const BATCH = 500;

/** Live events held for one watcher that is not reading; beyond, it gets `reset`. */
const MAX_BUFFERED = 10_000;

export interface Subscription {
  /** Events after the subscriber's cursor, then live ones, in cursor order. */
  next(): Promise<SecretEvent[] | 'reset'>;
  close(): void;
}

export type ChangeFeed = ReturnType<typeof createChangeFeed>;

export function createChangeFeed(store: SecretsStore, onChange: (listener: () => void) => () => void) {
  let seen = 0;
  let reading: Promise<void> | undefined;
  let again = false;
  const subscribers = new Set<{ push(events: SecretEvent[]): void; end(): void }>();

  async function readNew(): Promise<void> {
    do {
      again = false;
      for (;;) {
        const events = await store.eventsAfter(seen, BATCH);
        if (events.length === 0) break;
        seen = events[events.length - 1]!.cursor;
        for (const s of subscribers) s.push(events);
        if (events.length < BATCH) break;
      }
    } while (again);
  }

  function ring(): void {
    if (reading) {
      again = true; // a commit landed while reading: read once more afterwards
      return;
    }
    reading = readNew()
      // A failed read (the database unreachable) is tried again at the next ring: a commit, or
      // the once-a-second poll. Unhandled, it would end the process.
      .catch(() => {})
      .finally(() => {
        reading = undefined;
      });
  }

  const unsubscribe = onChange(ring);

  return {
    async start(): Promise<void> {
      seen = (await store.eventCursors()).latest;
    },

    /** The newest cursor: where a watcher without one starts. */
    latest: async (): Promise<number> => (await store.eventCursors()).latest,

    /** Reads events made elsewhere (another replica): the slow safety net next to the doorbell. */
    poll: ring,

    subscribe(after: number): Subscription {
      let cursor = after;
      let buffered: SecretEvent[] = [];
      let wake: (() => void) | undefined;
      let closed = false;
      let checked = false;
      let caughtUp = false;
      let overflowed = false;
      const subscriber = {
        push(events: SecretEvent[]) {
          // A watcher that stops reading is told to reload rather than made to hold everything.
          if (buffered.length + events.length > MAX_BUFFERED) {
            overflowed = true;
            buffered = [];
          } else {
            buffered.push(...events);
          }
          wake?.();
        },
        end() {
          closed = true;
          wake?.();
        },
      };
      subscribers.add(subscriber);

      return {
        async next() {
          if (!checked) {
            checked = true;
            const { oldest, latest } = await store.eventCursors();
            // Events after the cursor were trimmed away, or the cursor is from the future (the
            // database was restored from an older backup): the watcher must reload everything.
            if (cursor > latest || (cursor < latest && (oldest === undefined || oldest > cursor + 1))) {
              caughtUp = true;
              return 'reset';
            }
          }
          // Catching up one page at a time: a watcher from an old cursor never holds the whole feed.
          if (!caughtUp) {
            const page = await store.eventsAfter(cursor, BATCH);
            if (page.length < BATCH) caughtUp = true;
            if (page.length > 0) {
              cursor = page[page.length - 1]!.cursor;
              return page;
            }
          }
          while (!closed) {
            if (overflowed) {
              overflowed = false;
              return 'reset';
            }
            const fresh = buffered.filter((e) => e.cursor > cursor);
            buffered = [];
            if (fresh.length > 0) {
              cursor = fresh[fresh.length - 1]!.cursor;
              return fresh;
            }
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
            wake = undefined;
          }
          return [];
        },
        close() {
          closed = true;
          subscribers.delete(subscriber);
          wake?.();
        },
      };
    },

    /** Stops listening and ends every subscription (their streams finish). */
    close(): void {
      unsubscribe();
      for (const s of subscribers) s.end();
      subscribers.clear();
    },
  };
}
