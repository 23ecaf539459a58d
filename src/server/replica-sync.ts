// Keeps this process current with the store: the change feeds (one per region watched), and the caches other
// replicas' commits make stale (in every region's engines).
import type { Directory } from '../auth/index.js';
import { type ChangeFeed, createChangeFeed } from './change-feed.js';
import type { Engines } from './engines.js';
import { perRegion } from './regions.js';

/** How often the feeds look for new events when no notification said so. */
const FEED_POLL_MS = 1000;

export interface ChangeSync {
  /** The change feed of a region's secret events, started on first use. */
  changeFeedIn(region: string): Promise<ChangeFeed>;
  /** Stops polling and ends the watch streams, so draining does not wait for them. */
  close(): void;
}

interface RegionalFeed {
  feed: ChangeFeed;
  started?: Promise<void>;
}

export async function startChangeSync(
  { store, inRegion }: Pick<Engines, 'store' | 'inRegion'>,
  directory: Directory,
): Promise<ChangeSync> {
  const feeds = perRegion(
    (region): RegionalFeed => ({
      feed: createChangeFeed(store.inRegion(region).secrets, inRegion(region).secrets.onChange),
    }),
  );
  const changeFeedIn = async (region: string): Promise<ChangeFeed> => {
    const r = feeds(region);
    // A start that failed (the database unreachable) is tried again by the next watcher.
    r.started ??= r.feed.start().catch((e: unknown) => {
      r.started = undefined;
      throw e;
    });
    await r.started;
    return r.feed;
  };
  await changeFeedIn(store.defaultRegion);
  const pollAll = () => {
    for (const { feed } of feeds.built()) feed.poll();
  };
  // Replicas on one database: another replica's commits ring the feeds and drop the caches here.
  // Notifications name a key id, alias name or ARN without its region: every region's caches drop it.
  await store.coordination?.watch({
    change: (change) => {
      for (const { kms, secrets } of inRegion.built()) {
        if (change.kind === 'key') kms.invalidateKey(change.keyId);
        else if (change.kind === 'alias') kms.invalidateAlias(change.name);
        else if (change.kind === 'secret') secrets.invalidate(change.arn);
      }
      if (change.kind === 'events') pollAll();
      else if (change.kind === 'auth') void directory.refresh().catch(() => {}); // a failure is logged by the periodic refresh
    },
    resync: () => {
      for (const { kms, secrets } of inRegion.built()) {
        kms.invalidateAll();
        secrets.invalidate();
      }
      pollAll();
      void directory.refresh().catch(() => {});
    },
  });
  // The safety net for a notification lost in transit: look for new events every second.
  const feedPoll = setInterval(pollAll, FEED_POLL_MS);
  feedPoll.unref();
  return {
    changeFeedIn,
    close() {
      clearInterval(feedPoll);
      for (const { feed } of feeds.built()) feed.close();
    },
  };
}
