// The internals of AWS's Cognito client that the SRP known-answer tests drive (the package types only its API).
declare module 'amazon-cognito-identity-js/lib/BigInteger' {
  export default class BigInteger {
    constructor(value: string, radix: number);
    toString(radix: number): string;
  }
}

declare module 'amazon-cognito-identity-js/lib/AuthenticationHelper' {
  import type BigInteger from 'amazon-cognito-identity-js/lib/BigInteger';
  export default class AuthenticationHelper {
    constructor(poolName: string);
    smallAValue: BigInteger;
    largeAValue: BigInteger | undefined;
    getLargeAValue(done: (error: unknown, value: BigInteger) => void): void;
    getPasswordAuthenticationKey(
      username: string,
      password: string,
      serverB: BigInteger,
      salt: BigInteger,
      done: (error: unknown, key: Buffer) => void,
    ): void;
  }
}

declare module 'amazon-cognito-identity-js/lib/DateHelper' {
  export default class DateHelper {
    getNowString(): string;
  }
}
