#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from the test
fixtures. Run from the repository root when the fixtures change; the seeds are committed."""
import glob, gzip, hashlib, json, os, shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(ROOT, "fuzz", "corpus")
SEP = b"\n--\n"
MAX = 64 * 1024  # seeds stay small: libFuzzer's speed depends on it


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX:
        return
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if path.endswith(".gz") else data


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    for path in glob.glob(os.path.join(FIX, "purl", "*-test.json")) + [os.path.join(FIX, "purl", "specification-test.json")]:
        doc = json.loads(read(path))
        for case in (doc.get("tests", []) if isinstance(doc, dict) else doc):
            for key in ("purl", "canonical_purl", "input", "expected_output"):
                if isinstance(case, dict) and isinstance(case.get(key), str):
                    write("purl", case[key])
    for eco, names in enumerate([["left-pad", "@babel/core", "Legacy_Name"], ["Flask_Login", "requests"],
                                 ["serde_json", "Serde"], ["org.slf4j:slf4j-api", "org.slf4j/slf4j-api"],
                                 ["github.com/gin-gonic/gin", "golang.org/x/mod"]]):
        for n in names:
            write("package_name", bytes([eco]) + n.encode())
    pairs = [("1.0.0-alpha.1", "1.0.0"), ("v1.2.3", "1.2.4+build"), ("1!2.0.post1", "2.0.dev3+local.7"),
             ("1.0rc1", "1.0"), ("1-alpha2snapshot", "1.0-SNAPSHOT"), ("2.0.1-xyz", "2.0.1-123"),
             ("v0.0.0-20170915032832-14c0d48ead0c", "v2.0.0+incompatible")]
    for i, (a, b) in enumerate(pairs):
        write("version", bytes([i % 5]) + f"{a}\n{b}".encode())
    for case in json.loads(read(os.path.join(FIX, "sns_filter_policy_cases.json"))).get("cases", [])[:60]:
        policy = json.dumps(case.get("policy", {}))
        attrs = "\n".join(("#" if v.get("Type") == "Number" else "") + f"{k}={v.get('Value')}"
                          for k, v in (case.get("attributes") or {}).items() if isinstance(v, dict))
        write("filter_policy", policy.encode() + SEP + attrs.encode())
    for path in [os.path.join(ROOT, "config", "pkgtrust.yaml"), os.path.join(ROOT, "config", "topology.yaml")]:
        write("config", read(path))
    write("config", "server:\n  listen: \"127.0.0.1:0\"\nupstreams:\n  redirect_hosts: [cdn.example.com]\n")
    write("config", "scoring:\n  internal_names: [\"@acme/*\"]\n  popular:\n    npm: off\n")
    for line in read(os.path.join(FIX, "feeds", "events-sample.jsonl")).splitlines()[:20]:
        write("webhook", line)
    write("webhook", b"[" + b",".join(read(os.path.join(FIX, "feeds", "events-sample.jsonl")).splitlines()[:5]) + b"]")
    for request in [
        "GET /v1/packages/npm/left-pad?wait=0\nx-request-id: fuzz\n\n",
        "GET /v1/packages?purl=pkg:npm/fsevents@1.2.9&version=1.2.9\n\n",
        'POST /v1/packages:query\n\n{"packages":["pkg:npm/a@1",{"ecosystem":"pypi","name":"b","version":"2"}],"wait":0}',
        "GET /v1/search?ecosystem=npm&prefix=le&limit=5\n\n",
        'POST /v1/feeds/package-feeds?token=feed\n\n{"name":"x","version":"1","created_date":"2026-01-01T00:00:00Z","type":"npm","schema_ver":"1.1"}',
        "POST /v1/packages/npm/x:refresh\nauthorization: Bearer admin\n\n",
        "GET /v1/changes?ecosystem=npm&flagged=true\n\n",
        "GET /metrics\n\n", "GET /readyz\n\n", "DELETE /healthz\n\n",
    ]:
        write("rest_api", request)
    for path in glob.glob(os.path.join(FIX, "registry", "npm", "*")):
        write("registry_npm", read(path))
        write("gateway_npm", read(path))
    write("registry_npm", '{"downloads":42,"package":"left-pad"}')
    write("gateway_pypi", read(os.path.join(FIX, "registry", "pypi", "numpy-simple.json")))
    write("gateway_npm", '{"evil":["1.0.0","1.0.1"],"@scope/all":["0.1.0"],"left-pad":["1.3.0"]}')
    write("gateway_npm", "@scope%2fname/-/name-1.0.0.tgz")
    write("gateway_pypi", "files/numpy/packages/aa/bb/numpy-1.5.1-py3-none-any.whl.metadata")
    # lockfile: the first byte picks the format, in the order of lockfile::kAllFormats.
    formats = ["packagelockjson", "yarnlock", "pnpmlock", "bunlock", "requirements", "poetrylock", "pipfilelock",
               "uvlock", "pdmlock", "pylock", "cargolock", "gomod", "gosum", "pomxml", "gradlelockfile", "cdx", "spdx"]
    for index, folder in enumerate(formats):
        pattern = "*.sum" if folder == "gosum" else "**/*"
        for path in sorted(glob.glob(os.path.join(FIX, "lockfiles", "scalibr", "gomod" if folder == "gosum" else folder,
                                                  pattern), recursive=True)):
            if os.path.isfile(path) and not path.endswith(".md"):
                write("lockfile", bytes([index]) + read(path))
    for path in glob.glob(os.path.join(FIX, "registry", "pypi", "*.json")):
        write("registry_pypi", read(path))
    for path in glob.glob(os.path.join(FIX, "registry", "crates", "*.json")):
        write("registry_crates", read(path))
    write("registry_crates", '{"users":[{"login":"a"}],"teams":[]}')
    for path in glob.glob(os.path.join(FIX, "registry", "maven", "**", "*"), recursive=True):
        if os.path.isfile(path) and (path.endswith(".xml") or path.endswith(".pom")):
            write("registry_maven", read(path))
    for path in glob.glob(os.path.join(FIX, "registry", "go", "**", "*"), recursive=True):
        if os.path.isfile(path) and not path.endswith(".json"):
            write("registry_go", read(path))
    write("registry_go", '{"Version":"v1.2.3","Time":"2020-01-01T00:00:00Z"}')
    write("registry_go", "module example.com/x\n\nretract (\n\tv1.0.0\n\t[v1.1.0, v1.2.0]\n)\n")
    github = [read(p) for p in sorted(glob.glob(os.path.join(FIX, "github", "*.json")))]
    write("github", b"\x00" + github[0] + SEP + b"\x00" + github[1] + SEP + b"\x08" + b'{"message":"Not Found"}')
    for body in github:
        write("github", b"\x00" + body)
    for path in glob.glob(os.path.join(FIX, "osv", "**", "*.json"), recursive=True) + \
            glob.glob(os.path.join(FIX, "osv-handwritten", "**", "*.json"), recursive=True):
        write("osv", read(path))
    sns = b'<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>'
    sqs = json.dumps({"Messages": [{"MessageId": "1", "ReceiptHandle": "r", "Body": json.dumps(
        {"ecosystem": "npm", "name": "left-pad", "generation": 1, "request_id": "x"}),
        "Attributes": {"ApproximateReceiveCount": "2"},
        "MessageAttributes": {"priority": {"DataType": "String", "StringValue": "1"}}}]}).encode()
    envelope = json.dumps({"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:0:t", "Message": json.dumps(
        {"ecosystem": "pypi", "name": "requests", "generation": 2}),
        "MessageAttributes": {"priority": {"Type": "String", "Value": "2"}}})
    write("aws", b"\x00" + sns + SEP + b"\x00" + sqs + SEP + json.dumps({"Body": envelope}).encode())
    write("aws", b"\x03<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>" + SEP +
          b'\x06{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"no"}')
    for q in ["ecosystem=npm", "prefix=%40babel%2F&score_below=5&flagged=true", "score_above=nan&offset=12",
              "flagged=maybe", "ecosystem=cobol"]:
        write("change_query", q)


if __name__ == "__main__":
    main()
