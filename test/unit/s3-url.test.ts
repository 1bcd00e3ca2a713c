/**
 * Reading an `s3://` backend URL as the Pulumi CLI does (components/core/state-store/s3.ts): bucket, key prefix and the
 * query parameters of gocloud.dev s3blob/aws, including the SDK v1 ones the CLI still translates. No network.
 */
import { strict as assert } from "assert";
import { StoreError } from "../../components/core/state-store/blob";
import { parseS3BackendUrl, s3StoreFromBackendUrl } from "../../components/core/state-store/s3";

const NO_ENV = {};

function refused(url: string, pattern: RegExp, env: Record<string, string> = NO_ENV): void {
  assert.throws(
    () => parseS3BackendUrl(url, env),
    (err: unknown) => {
      assert.ok(err instanceof StoreError, `expected a StoreError, got ${String(err)}`);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe("s3 backend URL: bucket and key prefix", () => {
  it("takes the host as the bucket and no prefix for a bare bucket", () => {
    const b = parseS3BackendUrl("s3://my-state", NO_ENV);
    assert.equal(b.bucket, "my-state");
    assert.equal(b.keyPrefix, "");
    assert.equal(b.endpoint, undefined);
    assert.equal(b.forcePathStyle, false);
    assert.equal(b.http, false);
  });

  it("turns the path into a key prefix ending in /, as the CLI's PrefixedBucket does", () => {
    assert.equal(parseS3BackendUrl("s3://b/team/prod", NO_ENV).keyPrefix, "team/prod/");
    assert.equal(parseS3BackendUrl("s3://b/team/prod/", NO_ENV).keyPrefix, "team/prod/");
    assert.equal(parseS3BackendUrl("s3://b/", NO_ENV).keyPrefix, "");
  });

  it("roots the store at <prefix>/.pulumi/bluegreen in the bucket", () => {
    assert.equal(
      s3StoreFromBackendUrl("s3://b/team?region=eu-west-1", NO_ENV).location,
      "s3://b/team/.pulumi/bluegreen",
    );
    assert.equal(s3StoreFromBackendUrl("s3://b?region=eu-west-1", NO_ENV).location, "s3://b/.pulumi/bluegreen");
  });

  it("refuses a URL without a bucket and other schemes", () => {
    refused("s3:///prefix", /no bucket/);
    refused("gs://bucket", /not an s3:\/\/ backend URL/);
  });
});

describe("s3 backend URL: a custom endpoint (S3-compatible stores)", () => {
  it("reads the form scripts/s3.sh prints: http endpoint, path style, region", () => {
    const b = parseS3BackendUrl(
      "s3://bluegreen-state?endpoint=http://127.0.0.1:34700&use_path_style=true&region=us-east-1",
      NO_ENV,
    );
    assert.equal(b.bucket, "bluegreen-state");
    assert.equal(b.endpoint, "http://127.0.0.1:34700");
    assert.equal(b.forcePathStyle, true);
    assert.equal(b.http, true);
    assert.equal(b.region, "us-east-1");
    // The CLI's default for third-party stores.
    assert.equal(b.requestChecksumCalculation, "WHEN_REQUIRED");
  });

  it("translates the SDK v1 parameters the CLI still takes (disableSSL, s3ForcePathStyle, bare endpoint)", () => {
    const b = parseS3BackendUrl("s3://b?endpoint=minio:9000&disableSSL=true&s3ForcePathStyle=true&region=x", NO_ENV);
    assert.equal(b.endpoint, "http://minio:9000");
    assert.equal(b.http, true);
    assert.equal(b.forcePathStyle, true);
  });

  it("gives a scheme-less endpoint https unless disableSSL says otherwise", () => {
    const b = parseS3BackendUrl("s3://b?endpoint=minio:9000&region=x", NO_ENV);
    assert.equal(b.endpoint, "https://minio:9000");
    assert.equal(b.http, false);
  });

  it("ignores disableSSL when the endpoint has a scheme, as the CLI does", () => {
    const b = parseS3BackendUrl("s3://b?endpoint=https://s3.example:443&disableSSL=true", NO_ENV);
    assert.equal(b.endpoint, "https://s3.example:443");
    assert.equal(b.http, false);
  });

  it("downgrades to plain HTTP with disable_https=true", () => {
    const b = parseS3BackendUrl("s3://b?endpoint=https://s3.example&disable_https=1", NO_ENV);
    assert.equal(b.http, true);
    assert.equal(b.endpoint, "http://s3.example");
  });

  it("uses path style when hostname_immutable=true keeps the endpoint's host", () => {
    assert.equal(parseS3BackendUrl("s3://b?endpoint=http://h:1&hostname_immutable=true", NO_ENV).forcePathStyle, true);
  });

  it("keeps a request checksum mode given in the URL or the environment", () => {
    const url = "s3://b?endpoint=http://h:1";
    assert.equal(
      parseS3BackendUrl(`${url}&request_checksum_calculation=when_supported`, NO_ENV).requestChecksumCalculation,
      "WHEN_SUPPORTED",
    );
    assert.equal(
      parseS3BackendUrl(url, { AWS_REQUEST_CHECKSUM_CALCULATION: "when_supported" }).requestChecksumCalculation,
      undefined,
    );
  });
});

describe("s3 backend URL: AWS options", () => {
  it("takes the region from the URL before AWS_REGION and AWS_DEFAULT_REGION", () => {
    assert.equal(parseS3BackendUrl("s3://b?region=eu-west-1", { AWS_REGION: "us-east-2" }).region, "eu-west-1");
    assert.equal(parseS3BackendUrl("s3://b", { AWS_REGION: "us-east-2", AWS_DEFAULT_REGION: "x" }).region, "us-east-2");
    assert.equal(parseS3BackendUrl("s3://b", { AWS_DEFAULT_REGION: "ap-south-1" }).region, "ap-south-1");
    assert.equal(parseS3BackendUrl("s3://b", NO_ENV).region, undefined);
  });

  it("reads the first value of a repeated parameter, as Go's url.Values.Get does", () => {
    assert.equal(parseS3BackendUrl("s3://b?region=a&region=b", NO_ENV).region, "a");
  });

  it("reads profile, fips, dualstack, accelerate, server-side encryption and the KMS key", () => {
    const b = parseS3BackendUrl(
      "s3://b?profile=ops&fips=true&dualstack=true&accelerate=true&ssetype=aws:kms&kmskeyid=key-1&awssdk=v2",
      NO_ENV,
    );
    assert.equal(b.profile, "ops");
    assert.equal(b.useFipsEndpoint, true);
    assert.equal(b.useDualstackEndpoint, true);
    assert.equal(b.useAccelerateEndpoint, true);
    assert.equal(b.serverSideEncryption, "aws:kms");
    assert.equal(b.kmsKeyId, "key-1");
  });

  it("matches the server-side encryption type without regard to case", () => {
    assert.equal(parseS3BackendUrl("s3://b?ssetype=aes256", NO_ENV).serverSideEncryption, "AES256");
  });
});

describe("s3 backend URL: what the CLI refuses, refused with the key and what is allowed", () => {
  it("refuses an unknown query parameter", () => {
    refused("s3://b?endpont=http://h", /unknown query parameter "endpont"/);
  });

  it("refuses a boolean that Go's ParseBool refuses", () => {
    refused("s3://b?use_path_style=yes", /invalid value for "use_path_style": "yes" \(allowed: true or false\)/);
    refused("s3://b?endpoint=h&disableSSL=on", /invalid value for "disableSSL"/);
  });

  it("refuses an unknown server-side encryption type and checksum mode", () => {
    refused("s3://b?ssetype=rot13", /"rot13" is not a valid value for "ssetype"/);
    refused("s3://b?request_checksum_calculation=always", /allowed: when_supported, when_required/);
  });

  it("says why anonymous access and role= cannot hold the release state", () => {
    refused("s3://b?anonymous=true", /written as well as read/);
    refused("s3://b?role=arn:aws:iam::1:role/x", /profile/);
  });

  it("names the URL without user info in its messages", () => {
    refused("s3://user:secret@b?bogus=1", /^backend s3:\/\/b\?bogus=1: unknown/);
  });

  it("refuses a bad BLUEGREEN_STATE_TIMEOUT_MS, naming it", () => {
    assert.throws(
      () => s3StoreFromBackendUrl("s3://b?region=x", { BLUEGREEN_STATE_TIMEOUT_MS: "soon" }),
      /BLUEGREEN_STATE_TIMEOUT_MS: got "soon"; allowed: a whole number/,
    );
  });
});
