{{- define "allmende.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "allmende.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "allmende.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: scheduler
{{- end -}}

{{- define "allmende.image" -}}
{{- if .Values.image.digest -}}{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}{{- end -}}
{{- end -}}

{{/* SQLite when no external database is given. */}}
{{- define "allmende.sqlite" -}}
{{- if and (not .Values.database.url) (not .Values.database.existingSecret) -}}true{{- end -}}
{{- end -}}

{{- define "allmende.databaseSecret" -}}
{{- .Values.database.existingSecret | default (printf "%s-database" (include "allmende.fullname" .)) -}}
{{- end -}}

{{- define "allmende.tlsSecret" -}}
{{- .Values.tls.existingSecret | default (printf "%s-tls" (include "allmende.fullname" .)) -}}
{{- end -}}

{{/* The execute setting: the executor on needs a mode that runs something ("clusters" unless chosen). */}}
{{- define "allmende.execute" -}}
{{- $execute := .Values.settings.execute -}}
{{- if and .Values.executor.enabled (eq $execute "none") -}}clusters
{{- else if and (not .Values.executor.enabled) (ne $execute "none") -}}
{{- fail (printf "settings.execute is %q but executor.enabled is false: the executor needs its RBAC, enable it" $execute) -}}
{{- else -}}{{ $execute }}{{- end -}}
{{- end -}}

{{/* Refusals no schema can express. */}}
{{- define "allmende.checks" -}}
{{- if and (include "allmende.sqlite" .) (gt (int .Values.replicaCount) 1) -}}
{{- fail "replicaCount > 1 needs PostgreSQL (database.url or database.existingSecret): SQLite on one volume serves one replica" -}}
{{- end -}}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) (or (not .Values.tls.cert) (not .Values.tls.key)) -}}
{{- fail "tls.enabled needs tls.existingSecret, or tls.cert and tls.key" -}}
{{- end -}}
{{- if and .Values.tls.mutual (not .Values.tls.enabled) -}}
{{- fail "tls.mutual (mTLS for cluster agents) needs tls.enabled" -}}
{{- end -}}
{{- if and .Values.agent.enabled (or (not .Values.agent.clusterId) (not .Values.agent.tokenSecret)) -}}
{{- fail "agent.enabled needs agent.clusterId and agent.tokenSecret (a Secret with key token)" -}}
{{- end -}}
{{- if and .Values.executor.enabled (not .Values.executor.namespaces) -}}
{{- fail "executor.enabled needs executor.namespaces: the namespaces its RayJobs go to" -}}
{{- end -}}
{{- end -}}

{{/* gRPC health: the kubelet's grpc probe speaks plaintext only, so with TLS an exec probe checks over TLS. */}}
{{- define "allmende.probe" -}}
{{- if .Values.tls.enabled -}}
exec:
  command:
    - python
    - -c
    - >-
      import sys, grpc;
      from grpc_health.v1 import health_pb2 as h, health_pb2_grpc as g;
      ca = open('/etc/allmende/tls/ca.crt', 'rb').read();
      ch = grpc.secure_channel('127.0.0.1:{{ .Values.settings.port }}', grpc.ssl_channel_credentials(ca),
      options=[('grpc.ssl_target_name_override', '{{ .Values.tls.serverName | default (printf "%s.%s.svc" (include "allmende.fullname" .) .Release.Namespace) }}')]);
      sys.exit(g.HealthStub(ch).Check(h.HealthCheckRequest(), timeout=4).status != h.HealthCheckResponse.SERVING)
{{- else -}}
grpc:
  port: {{ .Values.settings.port }}
{{- end }}
{{- end -}}

{{- define "allmende.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "allmende.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
