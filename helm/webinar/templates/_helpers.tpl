{{/*
Shared names, labels and pod-level settings. Every object carries the standard
app.kubernetes.io labels; the component label tells keyservice, integrationservice
and on24sim (and their migration Jobs) apart, and NetworkPolicies select on it.
*/}}

{{- define "webinar.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "webinar.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<component>", e.g. webinar-keyservice. Call with (dict "ctx" $ "component" "x"). */}}
{{- define "webinar.componentName" -}}
{{- printf "%s-%s" (include "webinar.fullname" .ctx | trunc 40 | trimSuffix "-") .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "webinar.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select a component's pods; never change them after install. */}}
{{- define "webinar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "webinar.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "webinar.labels" -}}
helm.sh/chart: {{ include "webinar.chart" .ctx }}
{{ include "webinar.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: webinar
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The image reference of a component: registry/repository, then @digest or :tag. */}}
{{- define "webinar.image" -}}
{{- $img := .image -}}
{{- $repo := printf "%s/%s" .ctx.Values.image.registry $img.repository | trimPrefix "/" -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .ctx.Chart.AppVersion (default .ctx.Values.image.tag $img.tag)) -}}
{{- end -}}
{{- end -}}

{{/*
checkov skip annotations for a pod template, with the reason each check does not apply.
Digest pinning (CKV_K8S_43) is only skipped when the operator did not give a digest.
*/}}
{{- define "webinar.checkovSkips" -}}
{{- $i := 1 -}}
{{- if not .image.digest }}
checkov.io/skip{{ $i }}: CKV_K8S_43=Image is referenced by tag because no digest is set in values; set <component>.image.digest to pin it
{{- $i = add1 $i }}
{{- end }}
{{- range .extra }}
checkov.io/skip{{ $i }}: {{ . }}
{{- $i = add1 $i }}
{{- end }}
{{- end -}}

{{/* Hardened pod-level securityContext shared by every pod of the chart. */}}
{{- define "webinar.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Hardened container-level securityContext shared by every container of the chart. */}}
{{- define "webinar.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* OTLP exporter settings as env vars (silent when no endpoint is set). */}}
{{- define "webinar.otelEnv" -}}
{{- $otel := .ctx.Values.otel -}}
{{- if $otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $otel.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $otel.protocol | quote }}
{{- end }}
- name: OTEL_SERVICE_NAME
  value: {{ .component | quote }}
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- $attrs := list (printf "service.namespace=%s" .ctx.Release.Namespace) (printf "service.version=%s" .ctx.Chart.AppVersion) (printf "k8s.namespace.name=%s" .ctx.Release.Namespace) "k8s.pod.name=$(K8S_POD_NAME)" (printf "deployment.environment.name=%s" $otel.environment) -}}
{{- range $k, $v := $otel.resourceAttributes }}
{{- $attrs = append $attrs (printf "%s=%v" $k $v) -}}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attrs | quote }}
{{- end -}}

{{/* Pod topology spread: replicas across zones and nodes, best effort. */}}
{{- define "webinar.topologySpread" -}}
{{- if .ctx.Values.topologySpread.enabled }}
topologySpreadConstraints:
{{- range .ctx.Values.topologySpread.topologyKeys }}
  - maxSkew: {{ $.ctx.Values.topologySpread.maxSkew }}
    topologyKey: {{ . }}
    whenUnsatisfiable: {{ $.ctx.Values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "webinar.selectorLabels" (dict "ctx" $.ctx "component" $.component) | nindent 8 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* DNS egress (kube-dns / CoreDNS), needed by every pod that resolves names. */}}
{{- define "webinar.dnsEgress" -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ .Values.networkPolicy.dns.namespace }}
      podSelector:
        matchLabels:
          {{- toYaml .Values.networkPolicy.dns.podLabels | nindent 10 }}
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end -}}

{{/* TLS secret names, defaulting to the cert-manager Certificates' secrets. */}}
{{- define "webinar.keyservice.serverSecret" -}}
{{- if .Values.tls.certManager.enabled -}}
{{- printf "%s-tls" (include "webinar.componentName" (dict "ctx" . "component" "keyservice")) -}}
{{- else -}}
{{- required "keyservice.tls.serverSecretName is required when tls.certManager.enabled=false" .Values.keyservice.tls.serverSecretName -}}
{{- end -}}
{{- end -}}

{{- define "webinar.keyservice.clientCASecret" -}}
{{- if .Values.keyservice.tls.clientCASecretName -}}
{{- .Values.keyservice.tls.clientCASecretName -}}
{{- else -}}
{{- include "webinar.keyservice.serverSecret" . -}}
{{- end -}}
{{- end -}}

{{- define "webinar.integrationservice.serverSecret" -}}
{{- if .Values.tls.certManager.enabled -}}
{{- printf "%s-tls" (include "webinar.componentName" (dict "ctx" . "component" "integrationservice")) -}}
{{- else -}}
{{- required "integrationservice.tls.serverSecretName is required when tls.certManager.enabled=false" .Values.integrationservice.tls.serverSecretName -}}
{{- end -}}
{{- end -}}

{{- define "webinar.integrationservice.keyserviceClientSecret" -}}
{{- if .Values.tls.certManager.enabled -}}
{{- printf "%s-keyservice-client" (include "webinar.componentName" (dict "ctx" . "component" "integrationservice")) -}}
{{- else -}}
{{- required "integrationservice.tls.keyserviceClientSecretName is required when tls.certManager.enabled=false" .Values.integrationservice.tls.keyserviceClientSecretName -}}
{{- end -}}
{{- end -}}

{{/* The SPIFFE identity the chart gives integrationservice's client certificate. */}}
{{- define "webinar.integrationservice.spiffeId" -}}
{{- printf "spiffe://%s/integrationservice" .Values.trustDomain -}}
{{- end -}}

{{/*
The PostgreSQL egress peers of a component: required, so no default opens the database
port to every address. Call with (dict "svc" <component values> "name" "<component>").
*/}}
{{- define "webinar.databasePeers" -}}
{{- if not .svc.database.networkPolicyPeers -}}
{{- fail (printf "%s.database.networkPolicyPeers is required: the PostgreSQL server's address as NetworkPolicy peers (e.g. [{ipBlock: {cidr: 10.0.12.5/32}}] or a namespaceSelector), so egress to the database port is not open to every address" .name) -}}
{{- end -}}
{{- toYaml .svc.database.networkPolicyPeers -}}
{{- end }}

{{/*
The Secret holding the page-token key: the operator's, else the one the chart generates
(integrationservice-pagetokenkey-secret.yaml), so every replica signs with the same key.
*/}}
{{- define "webinar.integrationservice.pageTokenSecret" -}}
{{- default (include "webinar.componentName" (dict "ctx" . "component" "integrationservice-page-token")) .Values.integrationservice.pageTokenKey.existingSecret -}}
{{- end -}}
