export declare const ROOT: string;
export declare const DYNAMODB_LOCAL_DIR: string;
export declare const DYNAMODB_LOCAL_JAR: string;
export declare const JAVA_MISSING_MESSAGE: string;
/** The Java major version, or undefined when no usable `java` is on the PATH. */
export declare function javaMajorVersion(): number | undefined;
/** Fetches DynamoDB Local into .cache/dynamodb-local; returns true if it had to download it. */
export declare function ensureDynamoDbLocal(): boolean;
/** Checks Java and fetches DynamoDB Local if needed; throws an Error whose message is the one line to show. */
export declare function ensureDeps(): { fetched: boolean };
