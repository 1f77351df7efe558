export type DockerStatus = 'ok' | 'no-cli' | 'no-engine';
/** `docker info` outcome: no CLI on the PATH, a CLI without a usable engine, or ok. */
export declare function dockerStatus(): DockerStatus;
/** The one line printed when Docker or LOCALSTACK_AUTH_TOKEN is missing, else undefined. */
export declare function skipMessage(env?: NodeJS.ProcessEnv, docker?: DockerStatus): string | undefined;
