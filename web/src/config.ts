import { DEFAULT_LIMITS, type Limits } from '../../lambdas/domain/catalog';

/** The user pool the API's authorizer trusts (written into config.js by the CDK Web construct). */
export interface CognitoConfig {
  type: 'cognito';
  region: string;
  userPoolId: string;
  clientId: string;
  /** Another Cognito-compatible endpoint (an emulator); defaults to https://cognito-idp.<region>.amazonaws.com/. */
  endpoint?: string;
}

export interface GhostlessConfig {
  apiBase: string;
  auth: 'local' | CognitoConfig;
  /** Size limits the client checks before presigning; defaults to the catalog's (the API's own defaults). */
  limits: Limits;
  /** The push channel (`wss://…/live` in AWS); defaults to `/live` on this origin, where the local stack serves it. */
  liveUrl: string;
}

type RawConfig = Partial<Omit<GhostlessConfig, 'limits'>> & { limits?: Partial<Limits> };

declare global {
  interface Window {
    GHOSTLESS_CONFIG?: RawConfig;
  }
}

/** Runtime config from `/config.js` (deployed next to the SPA; not bundled, so one build serves every stage). */
export function readConfig(): GhostlessConfig {
  const raw = window.GHOSTLESS_CONFIG ?? {};
  return {
    apiBase: (raw.apiBase ?? '/api').replace(/\/+$/, ''),
    auth: raw.auth ?? 'local',
    limits: { ...DEFAULT_LIMITS, ...raw.limits },
    liveUrl: raw.liveUrl ?? '/live',
  };
}
