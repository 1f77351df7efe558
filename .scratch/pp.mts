import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
const s3 = new S3Client({ endpoint: 'http://127.0.0.1:3000/s3', forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, requestChecksumCalculation: 'WHEN_REQUIRED' });
const p = await createPresignedPost(s3, { Bucket: 'ghostless-data', Key: 'inputs/a b+c.png', Conditions: [['content-length-range', 5, 5], ['eq', '$Content-Type', 'image/png']], Fields: { 'Content-Type': 'image/png' }, Expires: 600 });
console.log(p.url, p.fields, Buffer.from(p.fields.Policy!, 'base64').toString());
console.log(await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'ghostless-data', Key: 'outputs/a b+c(1).png', ResponseContentDisposition: 'attachment; filename="x y.png"' }), { expiresIn: 60 }));
