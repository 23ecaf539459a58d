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

/** The feed's side of a subscription: where it delivers live events. */
interface Subscriber {
  push(events: SecretEvent[]): void;
  end(): void;
}

export function createChangeFeed(store: SecretsStore, onChange: (listener: () => void) => () => void) {
  let seen = 0;
  let reading: Promise<void> | undefined;
  let again = false;
  const subscribers = new Set<Subscriber>();

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
      const subscription = new FeedSubscription(store, after, () => subscribers.delete(subscription));
      subscribers.add(subscription);
      return subscription;
    },

    /** Stops listening and ends every subscription (their streams finish). */
    close(): void {
      unsubscribe();
      for (const s of subscribers) s.end();
      subscribers.clear();
    },
  };
}

/** One watcher: first the stored events after its cursor, a page at a time, then the live ones buffered for it. */
class FeedSubscription implements Subscription, Subscriber {
  private buffered: SecretEvent[] = [];
  private wake: (() => void) | undefined;
  private closed = false;
  private checked = false;
  private caughtUp = false;
  private overflowed = false;

  constructor(
    private readonly store: SecretsStore,
    private cursor: number,
    private readonly detach: () => void,
  ) {}

  push = (events: SecretEvent[]): void => {
    // A watcher that stops reading is told to reload rather than made to hold everything.
    if (this.buffered.length + events.length > MAX_BUFFERED) {
      this.overflowed = true;
      this.buffered = [];
    } else {
      this.buffered.push(...events);
    }
    this.wake?.();
  };

  end = (): void => {
    this.closed = true;
    this.wake?.();
  };

  next = async (): Promise<SecretEvent[] | 'reset'> => {
    if (!this.checked) {
      this.checked = true;
      if (await this.missedEvents()) {
        this.caughtUp = true;
        return 'reset';
      }
    }
    // Catching up one page at a time: a watcher from an old cursor never holds the whole feed.
    if (!this.caughtUp) {
      const page = await this.store.eventsAfter(this.cursor, BATCH);
      if (page.length < BATCH) this.caughtUp = true;
      if (page.length > 0) {
        this.cursor = page[page.length - 1]!.cursor;
        return page;
      }
    }
    return this.live();
  };

  close = (): void => {
    this.closed = true;
    this.detach();
    this.wake?.();
  };

  /**
   * Events after the cursor were trimmed away, or the cursor is from the future (the database
   * was restored from an older backup): the watcher must reload everything.
   */
  private async missedEvents(): Promise<boolean> {
    const { oldest, latest } = await this.store.eventCursors();
    return this.cursor > latest || (this.cursor < latest && (oldest === undefined || oldest > this.cursor + 1));
  }

  /** The live events past the cursor, waiting for some; [] once closed. */
  private async live(): Promise<SecretEvent[] | 'reset'> {
    while (!this.closed) {
      if (this.overflowed) {
        this.overflowed = false;
        return 'reset';
      }
      const fresh = this.buffered.filter((e) => e.cursor > this.cursor);
      this.buffered = [];
      if (fresh.length > 0) {
        this.cursor = fresh[fresh.length - 1]!.cursor;
        return fresh;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
    return [];
  }
}
