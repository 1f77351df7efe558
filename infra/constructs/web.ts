import { existsSync } from 'node:fs';
import { Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import {
  AllowedMethods,
  CachePolicy,
  Function as CloudFrontFunction,
  Distribution,
  FunctionCode,
  FunctionEventType,
  OriginRequestPolicy,
  SecurityPolicyProtocol,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { BlockPublicAccess, Bucket, BucketEncryption, type IBucket } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { acknowledge, acknowledgeCdkHandler } from '../nag';
import { type CspSources, EdgeHeaders } from './edge-headers';

/** A custom domain for the SPA: its names and an ACM certificate (us-east-1) covering them. */
export interface WebDomain {
  names: string[];
  certificateArn: string;
}

export interface WebProps {
  /** The built SPA (`npm run build:web`). */
  distPath: string;
  /** The HTTP API's URL, served under /api on the same origin. */
  apiUrl: string;
  /** What the SPA reads from /config.js at run time. */
  runtimeConfig: Record<string, unknown>;
  /** Where CloudFront and the SPA bucket write their access logs. */
  accessLogs: IBucket;
  /** Origins the CSP allows beyond the SPA's own. */
  csp: CspSources;
  /** Without it the distribution answers on its *.cloudfront.net name with CloudFront's default certificate. */
  domain?: WebDomain;
}

/** Rewrites app routes to index.html; files (with an extension) and /api pass through untouched. */
const SPA_REWRITE = `function handler(event) {
  var uri = event.request.uri;
  if (uri.indexOf('/api/') !== 0 && uri.lastIndexOf('.') <= uri.lastIndexOf('/')) event.request.uri = '/index.html';
  return event.request;
}`;

/** The SPA: a private bucket behind CloudFront (OAC), with /api/* routed to the HTTP API on the same origin. */
export class Web extends Construct {
  readonly distribution: Distribution;

  /** The origins the SPA is served from, e.g. `https://d123.cloudfront.net`. */
  readonly origins: string[];

  constructor(scope: Construct, id: string, { distPath, apiUrl, runtimeConfig, accessLogs, csp, domain }: WebProps) {
    super(scope, id);
    if (!existsSync(distPath)) throw new Error(`The SPA is not built (${distPath} is missing): run "npm run build:web" first`);

    const bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 's3/web/',
    });
    const apiDomain = Fn.select(2, Fn.split('/', apiUrl));
    const responseHeadersPolicy = new EdgeHeaders(this, 'Headers', csp).policy;
    this.distribution = new Distribution(this, 'Distribution', {
      defaultRootObject: 'index.html',
      ...(domain
        ? {
            domainNames: domain.names,
            certificate: Certificate.fromCertificateArn(this, 'Certificate', domain.certificateArn),
            minimumProtocolVersion: SecurityPolicyProtocol.TLS_V1_2_2021,
          }
        : {}),
      enableLogging: true,
      logBucket: accessLogs,
      logFilePrefix: 'cloudfront/',
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy,
        functionAssociations: [
          {
            eventType: FunctionEventType.VIEWER_REQUEST,
            function: new CloudFrontFunction(this, 'SpaRewrite', { code: FunctionCode.fromInline(SPA_REWRITE) }),
          },
        ],
      },
      additionalBehaviors: {
        '/api/*': {
          origin: new HttpOrigin(apiDomain),
          viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: AllowedMethods.ALLOW_ALL,
          cachePolicy: CachePolicy.CACHING_DISABLED,
          originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          responseHeadersPolicy,
        },
      },
    });
    this.origins = [`https://${this.distribution.distributionDomainName}`, ...(domain?.names ?? []).map((name) => `https://${name}`)];
    if (!domain) {
      acknowledge(
        this.distribution,
        'CFR4',
        "No custom domain is configured (-c webDomain/-c webCertificateArn): the *.cloudfront.net certificate's TLS policy is fixed by CloudFront; with a domain the minimum is TLSv1.2_2021.",
      );
    }
    acknowledge(this.distribution, 'CFR1', 'A consumer SPA for any country: there is no region to block.');
    acknowledge(
      this.distribution,
      'CFR2',
      'No WAF: the API throttles per route and authenticates every user route; a WebACL (us-east-1, billed per request) is an operator option.',
    );

    new BucketDeployment(this, 'Deploy', {
      destinationBucket: bucket,
      sources: [
        Source.asset(distPath, { exclude: ['config.js'] }),
        // Runtime config, not build-time constants: the same build runs anywhere.
        Source.data('config.js', Fn.join('', ['window.GHOSTLESS_CONFIG = ', Stack.of(this).toJsonString(runtimeConfig), ';'])),
      ],
      distribution: this.distribution,
      // sw.js: browsers check it for updates; a stale edge copy would hold the installed app on the old build.
      distributionPaths: ['/index.html', '/config.js', '/sw.js', '/manifest.webmanifest'],
      memoryLimit: 256,
    });
    // The copy handler is a stack-level singleton named after its memory size.
    const handler = Stack.of(this).node.children.find((child) => child.node.id.startsWith('Custom::CDKBucketDeployment'));
    if (handler)
      acknowledgeCdkHandler(
        handler,
        'BucketDeployment copies the built SPA from the CDK asset bucket into the SPA bucket and invalidates /index.html and /config.js',
      );
  }
}
