// Keeps this process current with the store: the change feed, and the caches other replicas' commits make stale.
import type { Directory } from '../auth/index.js';
import { type ChangeFeed, createChangeFeed } from './change-feed.js';
import type { Engines } from './engines.js';

/** How often the feed looks for new events when no notification said so. */
const FEED_POLL_MS = 1000;

export interface ChangeSync {
  changeFeed: ChangeFeed;
  /** Stops polling and ends the watch streams, so draining does not wait for them. */
  close(): void;
}

export async function startChangeSync(
  { store, kms, secrets }: Pick<Engines, 'store' | 'kms' | 'secrets'>,
  directory: Directory,
): Promise<ChangeSync> {
  const changeFeed = createChangeFeed(store.secrets, secrets.onChange);
  await changeFeed.start();
  // Replicas on one database: another replica's commits ring the feed and drop the caches here.
  await store.coordination?.watch({
    change: (change) => {
      if (change.kind === 'key') kms.invalidateKey(change.keyId);
      else if (change.kind === 'alias') kms.invalidateAlias(change.name);
      else if (change.kind === 'secret') secrets.invalidate(change.arn);
      else if (change.kind === 'events') changeFeed.poll();
      else void directory.refresh().catch(() => {}); // a failure is logged by the periodic refresh
    },
    resync: () => {
      kms.invalidateAll();
      secrets.invalidate();
      changeFeed.poll();
      void directory.refresh().catch(() => {});
    },
  });
  // The safety net for a notification lost in transit: look for new events every second.
  const feedPoll = setInterval(changeFeed.poll, FEED_POLL_MS);
  feedPoll.unref();
  return {
    changeFeed,
    close() {
      clearInterval(feedPoll);
      changeFeed.close();
    },
  };
}
