import { createHash, createHmac, getDiffieHellman, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signLocalToken } from '../../local/jwt-authorizer';
import { N as CLIENT_N } from '../../web/src/srp';
import { expectAccessible } from '../support/a11y';
import { walkAccountFlows } from '../support/account-flows';
import { ensureWebBuild, hasChromium, launchBrowser, phoneContext, screenshot } from '../support/browser';
import { type StartedTestStack, startTestStack } from '../support/started-stack';

/**
 * The deployed sign-in (config.js with a Cognito user pool) in a real browser, against a stand-in for the
 * Cognito API written from the SRP-6a server side and AWS's API reference (request and response fields, error
 * `__type`s, preventUserExistenceErrors), independently of the SPA's client: sign-up with a weak then a good
 * password, the e-mailed code, SRP sign-in, token refresh, sign-out with revocation, ForgotPassword and
 * ConfirmForgotPassword, GlobalSignOut with the access token. The ID
 * tokens it issues are signed with the local stack's key, so the API accepts them as it would Cognito's.
 */

if (!hasChromium) console.warn('[web e2e] skipped: /usr/bin/chromium is not installed (apt-get install -y chromium)');

const POOL_ID = 'us-east-1_GhostTest1';
const CLIENT_ID = 'ghostless-web-client';
const CODE = '123456';

// --- a Cognito stand-in: the server half of USER_SRP_AUTH --------------------------------------

const N = BigInt(`0x${getDiffieHellman('modp15').getPrime('hex')}`); // RFC 3526, 3072-bit
const g = 2n;
const pad = (n: bigint) => {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (Number.parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  return Buffer.from(hex, 'hex');
};
const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
const big = (bytes: Buffer) => BigInt(`0x${bytes.toString('hex') || '0'}`);
const pow = (b: bigint, e: bigint, m: bigint) => {
  let r = 1n;
  let x = b % m;
  let y = e;
  while (y > 0n) {
    if (y & 1n) r = (r * x) % m;
    x = (x * x) % m;
    y >>= 1n;
  }
  return r;
};
const k = big(sha(pad(N), pad(g)));
const poolName = POOL_ID.split('_')[1] as string;

interface User {
  sub: string;
  salt: Buffer;
  verifier: bigint;
  confirmed: boolean;
  /** The code ForgotPassword last e-mailed. */
  resetCode?: string;
}

/** The pool's password policy (infra/constructs/user-pool.ts): 8+ characters, upper, lower, digit, symbol. */
const weak = (password: string) =>
  password.length < 8 || !/[A-Z]/.test(password) || !/[a-z]/.test(password) || !/\d/.test(password) || !/[^A-Za-z0-9]/.test(password);

/** What Cognito stores for SRP: a salt and the verifier g^x, x = H(salt | H(poolName sub ":" password)). */
function srpVerifier(sub: string, password: string) {
  const salt = pad(big(randomBytes(16)));
  const x = big(sha(salt, sha(Buffer.from(`${poolName}${sub}:${password}`))));
  return { salt, verifier: pow(g, x, N) };
}

function fakeCognito(secret: Uint8Array) {
  const users = new Map<string, User>();
  const sessions = new Map<string, { user: User; A: bigint; b: bigint; B: bigint; secretBlock: Buffer }>();
  const refreshTokens = new Map<string, User>();
  const accessTokens = new Map<string, User>();
  /** The "e-mails": the last code sent to each address. */
  const mail = new Map<string, string>();
  const calls: string[] = [];
  const fail = (type: string, message: string) => ({ status: 400, body: { __type: type, message } });
  const idToken = (user: User, email: string, seconds: number) =>
    signLocalToken(secret, user.sub, { claims: { email }, expiresInSeconds: seconds });
  const accessToken = async (user: User) => {
    const token = await signLocalToken(secret, user.sub, {
      claims: { token_use: 'access', scope: 'aws.cognito.signin.user.admin', jti: randomUUID() },
      expiresInSeconds: 3600,
    });
    accessTokens.set(token, user);
    return token;
  };
  const emailOf = (user: User) => [...users].find(([, u]) => u === user)?.[0] ?? '';

  // biome-ignore lint/suspicious/noExplicitAny: Cognito's JSON requests, read field by field as the real service does.
  async function handle(target: string, input: Record<string, any>): Promise<{ status: number; body: unknown }> {
    calls.push(target);
    if (input.ClientId !== CLIENT_ID && target !== 'GlobalSignOut' && target !== 'GetUser')
      return fail('ResourceNotFoundException', 'User pool client does not exist.');
    switch (target) {
      case 'SignUp': {
        const email = String(input.Username);
        const password = String(input.Password);
        if (users.has(email)) return fail('UsernameExistsException', 'An account with the given email already exists.');
        if (weak(password)) return fail('InvalidPasswordException', 'Password did not conform with policy.');
        const sub = randomUUID();
        users.set(email, { sub, ...srpVerifier(sub, password), confirmed: false });
        mail.set(email, CODE);
        return { status: 200, body: { UserConfirmed: false, UserSub: sub } };
      }
      case 'ConfirmSignUp': {
        const user = users.get(String(input.Username));
        if (!user) return fail('UserNotFoundException', 'Username/client id combination not found.');
        if (input.ConfirmationCode !== CODE) return fail('CodeMismatchException', 'Invalid verification code provided, please try again.');
        user.confirmed = true;
        return { status: 200, body: {} };
      }
      case 'ResendConfirmationCode':
        return { status: 200, body: { CodeDeliveryDetails: { DeliveryMedium: 'EMAIL' } } };
      case 'InitiateAuth': {
        if (input.AuthFlow === 'REFRESH_TOKEN_AUTH') {
          const user = refreshTokens.get(String(input.AuthParameters?.REFRESH_TOKEN));
          if (!user) return fail('NotAuthorizedException', 'Invalid Refresh Token');
          return {
            status: 200,
            body: {
              AuthenticationResult: {
                IdToken: await idToken(user, emailOf(user), 3600),
                AccessToken: await accessToken(user),
                ExpiresIn: 3600,
              },
            },
          };
        }
        if (input.AuthFlow !== 'USER_SRP_AUTH') return fail('InvalidParameterException', 'Auth flow not enabled for this client');
        const user = users.get(String(input.AuthParameters?.USERNAME));
        if (!user) return fail('NotAuthorizedException', 'Incorrect username or password.'); // preventUserExistenceErrors
        if (!user.confirmed) return fail('UserNotConfirmedException', 'User is not confirmed.');
        const A = BigInt(`0x${input.AuthParameters.SRP_A}`);
        if (A % N === 0n) return fail('InvalidParameterException', 'SRP_A mod N cannot be 0');
        const b = big(randomBytes(128)) % N;
        const B = (k * user.verifier + pow(g, b, N)) % N;
        const session = randomUUID();
        const secretBlock = randomBytes(64);
        sessions.set(session, { user, A, b, B, secretBlock });
        return {
          status: 200,
          body: {
            ChallengeName: 'PASSWORD_VERIFIER',
            Session: session,
            ChallengeParameters: {
              SALT: user.salt.toString('hex'),
              SRP_B: pad(B).toString('hex'),
              SECRET_BLOCK: secretBlock.toString('base64'),
              USER_ID_FOR_SRP: user.sub,
              USERNAME: user.sub,
            },
          },
        };
      }
      case 'RespondToAuthChallenge': {
        const state = sessions.get(String(input.Session));
        sessions.delete(String(input.Session));
        const r = input.ChallengeResponses ?? {};
        if (!state || input.ChallengeName !== 'PASSWORD_VERIFIER' || r.USERNAME !== state.user.sub)
          return fail('NotAuthorizedException', 'Invalid session.');
        // The SDKs' timestamp: "Tue Nov 4 09:05:02 UTC 2026" (day of month not padded).
        if (
          !/^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [1-9]\d? \d\d:\d\d:\d\d UTC \d{4}$/.test(
            r.TIMESTAMP,
          )
        ) {
          return fail('InvalidParameterException', 'TIMESTAMP format is invalid.');
        }
        const u = big(sha(pad(state.A), pad(state.B)));
        const S = pow((state.A * pow(state.user.verifier, u, N)) % N, state.b, N);
        const prk = createHmac('sha256', pad(u)).update(pad(S)).digest();
        const key = createHmac('sha256', prk)
          .update(Buffer.concat([Buffer.from('Caldera Derived Key'), Buffer.from([1])]))
          .digest()
          .subarray(0, 16);
        const expected = createHmac('sha256', key)
          .update(Buffer.concat([Buffer.from(poolName), Buffer.from(state.user.sub), state.secretBlock, Buffer.from(r.TIMESTAMP)]))
          .digest('base64');
        if (r.PASSWORD_CLAIM_SECRET_BLOCK !== state.secretBlock.toString('base64') || r.PASSWORD_CLAIM_SIGNATURE !== expected) {
          return fail('NotAuthorizedException', 'Incorrect username or password.');
        }
        const refresh = randomUUID();
        refreshTokens.set(refresh, state.user);
        // Short-lived on purpose: the SPA must refresh it before its first API call.
        const IdToken = await idToken(state.user, emailOf(state.user), 30);
        const AccessToken = await accessToken(state.user);
        return { status: 200, body: { AuthenticationResult: { IdToken, AccessToken, RefreshToken: refresh, ExpiresIn: 30 } } };
      }
      case 'RevokeToken':
        refreshTokens.delete(String(input.Token));
        return { status: 200, body: {} };
      // GlobalSignOut and GetUser are authorized by the access token alone (no ClientId in the request).
      case 'GlobalSignOut': {
        const user = accessTokens.get(String(input.AccessToken));
        if (!user) return fail('NotAuthorizedException', 'Access Token has been revoked');
        for (const tokens of [refreshTokens, accessTokens]) {
          for (const [token, owner] of tokens) if (owner === user) tokens.delete(token);
        }
        return { status: 200, body: {} };
      }
      case 'GetUser': {
        const user = accessTokens.get(String(input.AccessToken));
        if (!user) return fail('NotAuthorizedException', 'Access Token has been revoked');
        return { status: 200, body: { Username: user.sub, UserAttributes: [{ Name: 'email', Value: emailOf(user) }] } };
      }
      case 'ForgotPassword': {
        const email = String(input.Username);
        const user = users.get(email);
        // preventUserExistenceErrors: an unknown address gets a simulated delivery, not UserNotFoundException.
        const CodeDeliveryDetails = {
          AttributeName: 'email',
          DeliveryMedium: 'EMAIL',
          Destination: `${email[0]}***@${email.split('@')[1]?.[0]}***`,
        };
        if (user) {
          user.resetCode = String(randomInt(0, 1_000_000)).padStart(6, '0');
          mail.set(email, user.resetCode);
        }
        return { status: 200, body: { CodeDeliveryDetails } };
      }
      case 'ConfirmForgotPassword': {
        const user = users.get(String(input.Username));
        // preventUserExistenceErrors: an unknown address reads as a wrong code.
        if (!user?.resetCode || input.ConfirmationCode !== user.resetCode)
          return fail('CodeMismatchException', 'Invalid verification code provided, please try again.');
        if (weak(String(input.Password))) return fail('InvalidPasswordException', 'Password does not conform to policy.');
        Object.assign(user, srpVerifier(user.sub, String(input.Password)), { resetCode: undefined, confirmed: true });
        return { status: 200, body: {} };
      }
      default:
        return fail('InvalidAction', target);
    }
  }

  const server: Server = createServer((req, res) => {
    const cors = {
      'access-control-allow-origin': '*',
      'access-control-allow-headers': 'content-type, x-amz-target, x-amz-user-agent',
      'access-control-allow-methods': 'POST',
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const target = String(req.headers['x-amz-target'] ?? '').replace('AWSCognitoIdentityProviderService.', '');
      const { status, body } = await handle(target, JSON.parse(Buffer.concat(chunks).toString() || '{}'));
      res.writeHead(status, { ...cors, 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(body));
    });
  });
  return {
    users,
    calls,
    refreshTokens,
    mail,
    listen: () =>
      new Promise<string>((resolve) =>
        server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)),
      ),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// --- the suite ---------------------------------------------------------------------------------

let stack: StartedTestStack;
let browser: Browser;
let cognito: ReturnType<typeof fakeCognito>;
let endpoint: string;

beforeAll(async () => {
  if (!hasChromium) return;
  ensureWebBuild();
  [stack, browser] = await Promise.all([startTestStack({ PROVIDER_LATENCY_MS: '300' }), launchBrowser()]);
  cognito = fakeCognito(stack.jwtSecret);
  endpoint = await cognito.listen();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await cognito?.close();
  await stack?.stop();
});

describe.skipIf(!hasChromium)('the web app with a Cognito user pool', () => {
  it('uses the same SRP group as Cognito (RFC 3526, 3072-bit)', () => {
    expect(CLIENT_N).toBe(N);
  });

  it('signs up with an e-mailed code, signs in over SRP, refreshes the token, signs out and back in', async () => {
    const context = await phoneContext(browser, stack.url);
    const config = { apiBase: '/api', auth: { type: 'cognito', region: 'us-east-1', userPoolId: POOL_ID, clientId: CLIENT_ID, endpoint } };
    await context.route('**/config.js', (route) =>
      route.fulfill({ contentType: 'text/javascript', body: `window.GHOSTLESS_CONFIG = ${JSON.stringify(config)};` }),
    );
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const formError = page.getByRole('alert');
    const text = async () => ((await formError.first().textContent()) ?? '').trim();
    await page.goto('/');
    await page.getByRole('heading', { name: 'Entrar' }).waitFor();
    await screenshot(page, '19-cognito-sign-in');
    await expectAccessible(page, 'Cognito sign-in (pt-BR)');

    // Sign up: the pool's password policy first, then the code.
    await page.getByRole('button', { name: 'Criar conta' }).click();
    await page.getByRole('heading', { name: 'Criar sua conta' }).waitFor();
    await expectAccessible(page, 'Cognito sign-up (pt-BR)');
    await page.getByLabel('E-mail').fill('Maria@Example.com');
    await page.getByLabel('Senha').fill('fraca');
    await page.getByRole('button', { name: 'Criar conta' }).click();
    await expect.poll(text).toBe('Senha fraca: use pelo menos 8 caracteres, com maiúsculas, minúsculas, números e símbolos.');
    await page.getByLabel('Senha').fill('Segura#2026');
    await page.getByRole('button', { name: 'Criar conta' }).click();
    await page.getByRole('heading', { name: 'Confirme seu e-mail' }).waitFor();
    expect(await page.getByText('Enviamos um código para maria@example.com.').count()).toBe(1);
    await page.getByLabel('Código').fill('000000');
    await page.getByRole('button', { name: 'Confirmar' }).click();
    await expect.poll(text).toBe('Código incorreto. Confira e tente de novo.');
    await screenshot(page, '20-cognito-confirm');
    await expectAccessible(page, 'Cognito confirm code (pt-BR)');
    await page.getByLabel('Código').fill(CODE);
    await page.getByRole('button', { name: 'Confirmar' }).click();

    // Signed in (SRP): the API accepts the ID token, refreshed before use; no local-only dev button.
    await page.getByTestId('balance').waitFor();
    const sub = cognito.users.get('maria@example.com')?.sub as string;
    expect(await page.getByText('Conectado como maria@example.com').count()).toBe(1);
    expect(await page.getByRole('button', { name: /\+20 créditos/ }).count()).toBe(0);
    expect(cognito.calls.filter((c) => c === 'InitiateAuth').length).toBeGreaterThanOrEqual(2); // SRP + refresh

    // The token works for real work: a job runs under the Cognito user's sub.
    await stack.api.call('POST', '/api/local/credits', { body: { userId: sub, balance: 3 } });
    await page.reload();
    await page.getByTestId('balance').filter({ hasText: '3 créditos' }).waitFor();
    await page.setInputFiles('#file-upscale-image-image', {
      name: 'tiny.png',
      mimeType: 'image/png',
      buffer: Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC', 'base64'),
    });
    await page.locator('form.tool-form button[type="submit"]').click();
    await page.locator('.job-region [data-testid="status"]', { hasText: 'Pronto' }).waitFor({ timeout: 20_000 });

    // Sign out revokes the refresh token; a wrong password is refused in plain words; the right one works.
    await page.getByRole('button', { name: 'Sair', exact: true }).click();
    await page.getByRole('heading', { name: 'Entrar' }).waitFor();
    await page.getByRole('button', { name: 'Switch to English' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await expectAccessible(page, 'Cognito sign-in (en)');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Create your account' }).waitFor();
    await expectAccessible(page, 'Cognito sign-up (en)');
    await page.getByRole('button', { name: 'I have an account' }).click();
    await page.getByRole('button', { name: 'Mudar para português' }).click();
    await page.getByRole('heading', { name: 'Entrar' }).waitFor();
    expect(cognito.calls).toContain('RevokeToken');
    expect(cognito.refreshTokens.size).toBe(0);
    await page.getByLabel('E-mail').fill('maria@example.com');
    await page.getByLabel('Senha').fill('Errada#2026');
    await page.getByRole('button', { name: 'Entrar', exact: true }).click();
    await expect.poll(text).toBe('E-mail ou senha incorretos.');
    await page.getByLabel('Senha').fill('Segura#2026');
    await page.getByRole('button', { name: 'Entrar', exact: true }).click();
    await page.getByTestId('balance').filter({ hasText: '2 créditos' }).waitFor();
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  /** A call to the stand-in as any client makes it; resolves to Cognito's error type, or '' on success. */
  const refusal = async (target: string, body: Record<string, unknown>) => {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AWSCognitoIdentityProviderService.${target}` },
      body: JSON.stringify(body),
    });
    return response.ok ? '' : String(((await response.json()) as { __type?: string }).__type);
  };

  it.each(['pt-BR', 'en'] as const)(
    'sign-up with the code, a second device, forgotten password and sign-out everywhere (%s)',
    async (lang) => {
      const config = {
        apiBase: '/api',
        auth: { type: 'cognito', region: 'us-east-1', userPoolId: POOL_ID, clientId: CLIENT_ID, endpoint },
      };
      await walkAccountFlows({
        browser,
        baseURL: stack.url,
        lang,
        prefix: `cognito-account-${lang}`,
        email: `ana.${lang.toLowerCase()}@example.com`,
        configure: (context) =>
          context.route('**/config.js', (route) =>
            route.fulfill({ contentType: 'text/javascript', body: `window.GHOSTLESS_CONFIG = ${JSON.stringify(config)};` }),
          ),
        lastCode: async (email) => cognito.mail.get(email) as string,
        oldTokensRefused: async (stored) => {
          // GlobalSignOut revoked the other device's refresh and access tokens. (Its ID token, checked by the
          // API's JWT authorizer offline, stays valid until it expires: "other requests might be valid until
          // your user's token expires", AWS's GlobalSignOut reference.)
          const tokens = JSON.parse(stored['ghostless.cognito'] as string) as { accessToken: string; refreshToken: string };
          expect(tokens.accessToken).toMatch(/^ey/);
          expect(
            await refusal('InitiateAuth', {
              AuthFlow: 'REFRESH_TOKEN_AUTH',
              ClientId: CLIENT_ID,
              AuthParameters: { REFRESH_TOKEN: tokens.refreshToken },
            }),
          ).toBe('NotAuthorizedException');
          expect(await refusal('GetUser', { AccessToken: tokens.accessToken })).toBe('NotAuthorizedException');
        },
      });
      expect(cognito.calls).toEqual(expect.arrayContaining(['ForgotPassword', 'ConfirmForgotPassword', 'GlobalSignOut']));
    },
    120_000,
  );
});
