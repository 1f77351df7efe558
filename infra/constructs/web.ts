import { existsSync } from 'node:fs';
import { Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  AllowedMethods,
  CachePolicy,
  Function as CloudFrontFunction,
  Distribution,
  FunctionCode,
  FunctionEventType,
  OriginRequestPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';

export interface WebProps {
  /** The built SPA (`npm run build:web`). */
  distPath: string;
  /** The HTTP API's URL, served under /api on the same origin. */
  apiUrl: string;
  /** What the SPA reads from /config.js at run time. */
  runtimeConfig: Record<string, unknown>;
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

  constructor(scope: Construct, id: string, { distPath, apiUrl, runtimeConfig }: WebProps) {
    super(scope, id);
    if (!existsSync(distPath)) throw new Error(`The SPA is not built (${distPath} is missing): run "npm run build:web" first`);

    const bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    const apiDomain = Fn.select(2, Fn.split('/', apiUrl));
    this.distribution = new Distribution(this, 'Distribution', {
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
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
        },
      },
    });

    new BucketDeployment(this, 'Deploy', {
      destinationBucket: bucket,
      sources: [
        Source.asset(distPath, { exclude: ['config.js'] }),
        // Runtime config, not build-time constants: the same build runs anywhere.
        Source.data('config.js', Fn.join('', ['window.GHOSTLESS_CONFIG = ', Stack.of(this).toJsonString(runtimeConfig), ';'])),
      ],
      distribution: this.distribution,
      distributionPaths: ['/index.html', '/config.js'],
      memoryLimit: 256,
    });
  }
}
