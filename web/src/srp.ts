/**
 * Cognito's SRP-6a (USER_SRP_AUTH → PASSWORD_VERIFIER), with BigInt and WebCrypto: the password never
 * leaves the device. Same group (RFC 3526, 3072-bit), padding, hashing and "Caldera" key derivation as the
 * AWS SDKs' AuthenticationHelper.
 */

const N_HEX =
  'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD' +
  'EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED' +
  'EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F' +
  '83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B' +
  'E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510' +
  '15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7' +
  'ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C' +
  'BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF';

export const N = BigInt(`0x${N_HEX}`);
const G = 2n;

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = ((base % modulus) + modulus) % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

/** Even-length hex, with a leading 00 when the top bit is set (the SDKs' two's-complement-safe encoding). */
function padHex(value: bigint): string {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  else if ('89abcdef'.includes(hex[0] as string)) hex = `00${hex}`;
  return hex;
}

const hexToBytes = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (byte) => Number.parseInt(byte, 16));
const bytesToHex = (bytes: ArrayBuffer | Uint8Array) =>
  Array.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
const utf8 = (text: string) => new TextEncoder().encode(text);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
};

async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data as BufferSource));
}

async function hmac(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const imported = await crypto.subtle.importKey('raw', key as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', imported, data as BufferSource));
}

/** SHA-256 of hex-encoded bytes, as a bigint. */
const hashHex = async (hex: string) => BigInt(`0x${bytesToHex(await sha256(hexToBytes(hex)))}`);

let kValue: Promise<bigint> | undefined;
const k = () => {
  kValue ??= hashHex(padHex(N) + padHex(G));
  return kValue;
};

export interface SrpClient {
  /** SRP_A, sent with InitiateAuth. */
  A: string;
  /** The PASSWORD_VERIFIER answer to the challenge. */
  respond(
    challenge: { SALT: string; SRP_B: string; SECRET_BLOCK: string; USER_ID_FOR_SRP: string },
    password: string,
    now?: Date,
  ): Promise<{
    PASSWORD_CLAIM_SECRET_BLOCK: string;
    PASSWORD_CLAIM_SIGNATURE: string;
    TIMESTAMP: string;
    USERNAME: string;
  }>;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** "Tue Nov 4 09:05:02 UTC 2026": the day of the month is not padded. */
function cognitoTimestamp(now: Date) {
  return `${DAYS[now.getUTCDay()]} ${MONTHS[now.getUTCMonth()]} ${now.getUTCDate()} ${two(now.getUTCHours())}:${two(now.getUTCMinutes())}:${two(now.getUTCSeconds())} UTC ${now.getUTCFullYear()}`;
}

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** `random` gives the secret exponent's 128 bytes; only the known-answer tests pass their own. */
export function srpClient(userPoolId: string, random = (length: number) => crypto.getRandomValues(new Uint8Array(length))): SrpClient {
  const poolName = userPoolId.split('_')[1] ?? userPoolId;
  let a = 0n;
  let A = 0n;
  while (A === 0n) {
    a = BigInt(`0x${bytesToHex(random(128))}`) % N;
    A = modPow(G, a, N);
  }
  return {
    A: A.toString(16),
    async respond(challenge, password, now = new Date()) {
      const B = BigInt(`0x${challenge.SRP_B}`);
      if (B % N === 0n) throw new Error('Invalid SRP_B from the server');
      const u = await hashHex(padHex(A) + padHex(B));
      if (u === 0n) throw new Error('Invalid SRP parameters');
      const userId = challenge.USER_ID_FOR_SRP;
      const identity = bytesToHex(await sha256(utf8(`${poolName}${userId}:${password}`)));
      const x = await hashHex(padHex(BigInt(`0x${challenge.SALT}`)) + identity);
      const S = modPow(B - (await k()) * modPow(G, x, N), a + u * x, N);
      // HKDF-like derivation with the AWS SDKs' fixed info string.
      const prk = await hmac(hexToBytes(padHex(u)), hexToBytes(padHex(S)));
      const key = (await hmac(prk, concat(utf8('Caldera Derived Key'), Uint8Array.of(1)))).slice(0, 16);
      const timestamp = cognitoTimestamp(now);
      const signature = await hmac(key, concat(utf8(poolName), utf8(userId), fromBase64(challenge.SECRET_BLOCK), utf8(timestamp)));
      return {
        PASSWORD_CLAIM_SECRET_BLOCK: challenge.SECRET_BLOCK,
        PASSWORD_CLAIM_SIGNATURE: base64(signature),
        TIMESTAMP: timestamp,
        USERNAME: userId,
      };
    },
  };
}
