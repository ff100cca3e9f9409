/**
 * @module Ids shaped like Neon's (neon-api.md §1.4): clients pattern-match them, e.g. neonctl
 * treats `br-word-word-xxxxxxxx` as an id and anything else as a branch name.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';

const ADJECTIVES = ['aged', 'ancient', 'autumn', 'billowing', 'bitter', 'black', 'blue', 'bold', 'broad', 'broken', 'calm', 'cold', 'cool', 'crimson', 'curly', 'damp', 'dark', 'dawn', 'delicate', 'divine', 'dry', 'empty', 'falling', 'fancy', 'flat', 'floral', 'fragrant', 'frosty', 'gentle', 'green', 'hidden', 'holy', 'icy', 'jolly', 'late', 'lingering', 'little', 'lively', 'long', 'lucky', 'misty', 'morning', 'muddy', 'mute', 'nameless', 'noisy', 'odd', 'old', 'orange', 'patient', 'plain', 'polished', 'proud', 'purple', 'quiet', 'rapid', 'raspy', 'red', 'restless', 'rough', 'round', 'royal', 'shiny', 'shrill', 'shy', 'silent', 'small', 'snowy', 'soft', 'solitary', 'sparkling', 'spring', 'square', 'steep', 'still', 'summer', 'super', 'sweet', 'throbbing', 'tight', 'tiny', 'twilight', 'wandering', 'weathered', 'white', 'wild', 'winter', 'wispy', 'withered', 'yellow', 'young'];
const NOUNS = ['art', 'band', 'bar', 'base', 'bird', 'block', 'boat', 'bonus', 'bread', 'breeze', 'brook', 'bush', 'butterfly', 'cake', 'cell', 'cherry', 'cloud', 'credit', 'darkness', 'dawn', 'dew', 'disk', 'dream', 'dust', 'feather', 'field', 'fire', 'firefly', 'flower', 'fog', 'forest', 'frog', 'frost', 'glade', 'glitter', 'grass', 'hall', 'hat', 'haze', 'heart', 'hill', 'king', 'lab', 'lake', 'leaf', 'limit', 'math', 'meadow', 'mode', 'moon', 'morning', 'mountain', 'mouse', 'mud', 'night', 'paper', 'pine', 'poetry', 'pond', 'queen', 'rain', 'recipe', 'resonance', 'rice', 'river', 'salad', 'scene', 'sea', 'shadow', 'shape', 'silence', 'sky', 'smoke', 'snow', 'snowflake', 'sound', 'star', 'sun', 'sunset', 'surf', 'term', 'thunder', 'tooth', 'tree', 'truth', 'union', 'unit', 'violet', 'voice', 'water', 'waterfall', 'wave', 'wildflower', 'wind', 'wood'];

const pick = (list: string[]) => list[randomInt(list.length)];
const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

function suffix(length: number): string {
  const bytes = randomBytes(length);
  return Array.from(bytes, (b) => ALNUM[b % ALNUM.length]).join('');
}

function haiku(): string {
  return `${pick(ADJECTIVES)}-${pick(NOUNS)}`;
}

/** `cold-bonus-61650555` */
export function projectId(): string {
  return `${haiku()}-${String(randomInt(10_000_000, 100_000_000))}`;
}

/** `br-raspy-sound-a54diuwm` */
export function branchId(): string {
  return `br-${haiku()}-${suffix(8)}`;
}

/** `ep-delicate-glitter-a53ow19g` */
export function endpointId(): string {
  return `ep-${haiku()}-${suffix(8)}`;
}

export function operationId(): string {
  return randomUUID();
}

const PASSWORD_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Role passwords as Neon issues them (`npg_` + 12 characters, ~71 bits). */
export function rolePassword(): string {
  return 'npg_' + Array.from({ length: 12 }, () => PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)]).join('');
}

export function apiKey(): string {
  return 'arbor_' + randomBytes(24).toString('base64url');
}
