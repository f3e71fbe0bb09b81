#!/usr/bin/env bash
# The audit the way users script it today: kubectl get -o json | jq.
# Prints, as JSON, the same per-MachineSet facts as `ocp-bootimage audit -o json`
# (platform, arch, region, current and target image, status) plus the cluster version,
# platform and the stub Ignition version of each user-data secret.
# Usage: kubectl-jq-audit.sh KUBECONFIG
set -euo pipefail
export KUBECONFIG="$1"
K="kubectl --request-timeout=60s"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
$K get clusterversion version -o json >"$tmp/cv.json"
$K get infrastructure cluster -o json >"$tmp/infra.json"
$K get configmap -n openshift-machine-config-operator coreos-bootimages -o json >"$tmp/cm.json"
$K get secrets -n openshift-machine-api -o json >"$tmp/secrets.json"
$K get machinesets -n openshift-machine-api -o json >"$tmp/ms.json"
jq -n \
  --slurpfile cv "$tmp/cv.json" --slurpfile infra "$tmp/infra.json" \
  --slurpfile cm "$tmp/cm.json" --slurpfile sec "$tmp/secrets.json" \
  --slurpfile ms "$tmp/ms.json" '
  ($cm[0].data.stream | fromjson) as $stream
  | def arch($m): if (($m.metadata.annotations // {})["capacity.cluster-autoscaler.kubernetes.io/labels"] // "" | test("arch=arm64"))
                     or (($m.spec.template.spec.providerSpec.value.instanceType // "") | test("^[a-z]+[0-9]+[a-z]*g[a-z]*\\."))
                  then "aarch64" else "x86_64" end;
    def platform($v): {"AWSMachineProviderConfig":"aws","GCPMachineProviderSpec":"gcp",
                       "AzureMachineProviderSpec":"azure","VSphereMachineProviderSpec":"vsphere"}[$v.kind] // "unknown";
    def region($v): $v.placement.region // $v.region // $v.location // $v.workspace.datacenter // null;
    def current($v): $v.ami.id // $v.image // ($v.disks // [] | map(.image) | first) // $v.template // null;
    def target($p; $a; $r): $stream.architectures[$a].images as $im
      | if $p == "aws" then $im.aws.regions[$r].image // null
        elif $p == "gcp" then ("projects/" + $im.gcp.project + "/global/images/" + $im.gcp.name)
        else null end;
  {
    cluster: {version: $cv[0].status.desired.version, platform: $infra[0].status.platformStatus.type,
              infrastructure_name: $infra[0].status.infrastructureName},
    stream: $stream.stream,
    machinesets: [ $ms[0].items[] | . as $m | $m.spec.template.spec.providerSpec.value as $v
      | platform($v) as $p | arch($m) as $a | region($v) as $r | current($v) as $c | target($p; $a; $r) as $t
      | {name: $m.metadata.name, platform: $p, architecture: $a, region: $r, current: $c, target: $t,
         status: (if $t == null then "unknown" elif $c == $t then "current" else "outdated" end)} ],
    user_data: [ $sec[0].items[] | select(.metadata.name | endswith("user-data"))
      | {name: .metadata.name, ignition: ((.data.userData // "" | @base64d | fromjson? | .ignition.version) // null)} ]
  }
  | .compliant = ([.machinesets[] | select(.status != "current")] | length == 0)'
