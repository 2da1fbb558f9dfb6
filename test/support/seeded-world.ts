// startWorld (bot-harness.ts) whose embedded store is seeded first (databases.ts, seedEmbeddedStore):
// a bot started in it opens an initialised, empty store instead of running PGlite's initdb, which on a
// loaded machine alone can take longer than the bot's whole start is given.
import { startWorld, type World } from './bot-harness.ts';
import { seedEmbeddedStore } from './databases.ts';

export async function startSeededWorld(options: Parameters<typeof startWorld>[0]): Promise<World> {
  const world = await startWorld(options);
  if (options.databaseUrl) return world;
  try {
    await seedEmbeddedStore(world.env.DATA_DIR!);
  } catch (error) {
    await world.close();
    throw error;
  }
  return world;
}
