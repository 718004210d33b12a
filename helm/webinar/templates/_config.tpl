{{/*
The services' config files (TOML), shared by each service's ConfigMap and the hook copy its
migration Job reads. Keys follow keyservice/src/config.rs and integrationservice/src/config.rs
(docs/keyservice-config.md, docs/integrationservice-config.md); values.<service>.config is
merged over them. Secrets never appear here: database URLs come from env vars (Secrets), key
material from mounted Secret files.
*/}}

{{/*
Helm reads every number in values as a float, and toToml would write 30 as 30.0, which the
services' integer settings refuse. This turns whole floats back into integers, in place,
through nested tables.
*/}}
{{- define "webinar.intify" -}}
{{- range $key, $value := . -}}
{{- if kindIs "float64" $value -}}
{{- if eq $value (float64 (int64 $value)) -}}
{{- $_ := set $ $key (int64 $value) -}}
{{- end -}}
{{- else if kindIs "map" $value -}}
{{- include "webinar.intify" $value -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "webinar.keyservice.configToml" -}}
{{- $ks := .Values.keyservice -}}
{{- $rootKeySource := "" -}}
{{- if eq $ks.rootKey.provider "file" -}}
{{- $rootKeySource = printf "file:/var/run/secrets/webinar/root-key/%s" $ks.rootKey.secretKey -}}
{{- else -}}
{{- $sep := ternary "&" "?" (contains "?" $ks.rootKey.pkcs11.source) -}}
{{- $rootKeySource = printf "%s%spin-source=file:/var/run/secrets/webinar/pkcs11-pin/%s" $ks.rootKey.pkcs11.source $sep $ks.rootKey.pkcs11.pinSecretKey -}}
{{- end -}}
{{- $config := dict
  "listen" (dict "main" "0.0.0.0:7443" "health" "0.0.0.0:7080")
  "tls" (dict
    "cert" "/var/run/secrets/webinar/tls/tls.crt"
    "key" "/var/run/secrets/webinar/tls/tls.key"
    "client_ca" "/var/run/secrets/webinar/client-ca/ca.crt")
  "root_key" (dict "source" $rootKeySource "allow_group_read" (eq $ks.rootKey.provider "file"))
  "policy" (dict "file" "/etc/keyservice/policy.toml")
-}}
{{- if $ks.audit.keySecret -}}
{{- $_ := set $config "audit" (dict "key" (printf "file:/var/run/secrets/webinar/audit-key/%s" $ks.audit.keySecretKey)) -}}
{{- else if ne $ks.rootKey.provider "file" -}}
{{- fail "keyservice.audit.keySecret is required with rootKey.provider pkcs11 (the audit key cannot be derived from an HSM key)" -}}
{{- end -}}
{{- $config = mergeOverwrite $config (deepCopy $ks.config) -}}
{{- include "webinar.intify" $config -}}
{{- toToml $config -}}
{{- end -}}

{{- define "webinar.keyservice.policyToml" -}}
# Authorization policy (deny by default), from keyservice.policy in the chart values.
{{- range .Values.keyservice.policy }}

[[rule]]
identity = {{ replace "{{trustDomain}}" $.Values.trustDomain .identity | toJson }}
operations = {{ .operations | toJson }}
keys = {{ .keys | toJson }}
{{- end }}
{{- end -}}

{{- define "webinar.integrationservice.configToml" -}}
{{- $is := .Values.integrationservice -}}
{{- $ksName := include "webinar.componentName" (dict "ctx" . "component" "keyservice") -}}
{{- $config := dict
  "listen" (dict "grpc" "0.0.0.0:8443" "health" "0.0.0.0:8080")
  "tls" (dict
    "cert_file" "/var/run/secrets/webinar/tls/tls.crt"
    "key_file" "/var/run/secrets/webinar/tls/tls.key"
    "client_ca_file" (ternary "/var/run/secrets/webinar/client-ca/ca.crt" "" $is.tls.mtls))
  "jwt" (dict
    "issuer" $is.jwt.issuer
    "audience" $is.jwt.audience
    "jwks_url" $is.jwt.jwksUrl
    "leeway_seconds" $is.jwt.leewaySeconds)
  "auth" (dict
    "policy_file" "/etc/integrationservice/tenant-policy.toml"
    "allow_wildcard" $is.tenantPolicy.allowWildcard)
  "api" (dict "page_token_key_file" (printf "/var/run/secrets/webinar/page-token-key/%s" $is.pageTokenKey.secretKey))
  "database" (dict "migrate_on_start" (not $is.migrations.enabled))
  "keyservice" (dict
    "endpoint" (printf "https://%s.%s.svc:7443" $ksName .Release.Namespace)
    "ca_file" "/var/run/secrets/webinar/keyservice-client/ca.crt"
    "cert_file" "/var/run/secrets/webinar/keyservice-client/tls.crt"
    "key_file" "/var/run/secrets/webinar/keyservice-client/tls.key"
    "key_id" $is.keyserviceKeyId)
  "on24" (dict
    "allow_loopback" .Values.on24sim.enabled
    "allowed_regions" $is.on24.allowedRegions
    "allowed_base_urls" $is.on24.allowedBaseUrls)
-}}
{{- if $is.audit.keySecret -}}
{{- $_ := set $config "audit" (dict "key" (printf "file:/var/run/secrets/webinar/audit-key/%s" $is.audit.keySecretKey)) -}}
{{- end -}}
{{- $config = mergeOverwrite $config (deepCopy $is.config) -}}
{{- include "webinar.intify" $config -}}
{{- toToml $config -}}
{{- end -}}

{{- define "webinar.integrationservice.tenantPolicyToml" -}}
# Which principal may act for which tenants (deny by default), from
# integrationservice.tenantPolicy.principals in the chart values.
{{- range .Values.integrationservice.tenantPolicy.principals }}

[[principal]]
id = {{ .id | toJson }}
tenants = {{ .tenants | toJson }}
{{- if .admin }}
admin = true
{{- end }}
{{- end }}
{{- end -}}
