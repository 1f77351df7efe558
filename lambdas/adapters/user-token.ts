import { createRemoteJWKSet, jwtVerify } from 'jose';

/**
 * Verifies a Cognito ID or access token as the HTTP API's JWT authorizer does: the pool's signature (RS256, keys from
 * its JWKS), issuer, expiry, and the SPA client as audience (`aud` on ID tokens, `client_id` on access tokens).
 */
export function userTokenVerifier({ issuer, clientId }: { issuer: string; clientId: string }) {
  const keys = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`));
  return async (token: string | undefined): Promise<string> => {
    if (!token) throw new Error('No token');
    const { payload } = await jwtVerify(token, keys, { issuer, algorithms: ['RS256'], requiredClaims: ['exp', 'sub'] });
    const audience = payload.token_use === 'access' ? payload.client_id : payload.aud;
    if (audience !== clientId) throw new Error('Token issued to another client');
    return payload.sub as string;
  };
}
