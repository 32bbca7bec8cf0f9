"""The test's own S3 client (boto3) against the moto server of tests/publish.rs.

usage: s3.py ENDPOINT COMMAND ARGS...
  mkbucket BUCKET            create a bucket
  iam                        create two IAM users, one allowed s3:*, one only to list and read;
                             print "KEY SECRET" of each on its own line, then turn authentication
                             on (every later request must be signed by a known user's key)
  dump BUCKET                print {key: {content_type, cache_control, metadata, body}} as JSON
  put BUCKET KEY TEXT [TYPE] upload an object as another tool would (no jwksmith mark)
Credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
"""
import json, sys, urllib.request

import boto3

endpoint, command, *args = sys.argv[1:]


def client(service):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")


if command == "mkbucket":
    client("s3").create_bucket(Bucket=args[0])
elif command == "iam":
    iam = client("iam")
    keys = []
    for user, actions in (("publisher", ["s3:*"]), ("reader", ["s3:ListBucket", "s3:GetObject"])):
        iam.create_user(UserName=user)
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
        iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps(policy))
        keys.append(iam.create_access_key(UserName=user)["AccessKey"])
    request = urllib.request.Request(endpoint + "/moto-api/reset-auth", data=b"0",
                                     headers={"Content-Type": "text/plain"}, method="POST")
    urllib.request.urlopen(request).read()
    for key in keys:
        print(key["AccessKeyId"], key["SecretAccessKey"])
elif command == "dump":
    s3 = client("s3")
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=args[0]):
        for entry in page.get("Contents", []):
            got = s3.get_object(Bucket=args[0], Key=entry["Key"])
            found[entry["Key"]] = {
                "content_type": got.get("ContentType"),
                "cache_control": got.get("CacheControl"),
                "metadata": got.get("Metadata", {}),
                "body": got["Body"].read().decode("utf-8"),
            }
    print(json.dumps(found, sort_keys=True))
elif command == "put":
    bucket, key, text, *kind = args
    client("s3").put_object(Bucket=bucket, Key=key, Body=text.encode(), ContentType=kind[0] if kind else "text/plain")
else:
    sys.exit(f"unknown command {command}")
