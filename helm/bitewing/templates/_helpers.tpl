{{/*
Names and labels.
*/}}
{{- define "bitewing.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "bitewing.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "bitewing.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "bitewing.labels" -}}
helm.sh/chart: {{ include "bitewing.chart" . }}
{{ include "bitewing.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: bitewing
{{- end }}

{{- define "bitewing.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bitewing.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of one component: (dict "root" $ "component" "web").
*/}}
{{- define "bitewing.componentLabels" -}}
{{ include "bitewing.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "bitewing.componentSelectorLabels" -}}
{{ include "bitewing.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "bitewing.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "bitewing.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "bitewing.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}

{{/*
The Secret the app pods read (the chart's, or secrets.existingSecret).
*/}}
{{- define "bitewing.secretName" -}}
{{- default (include "bitewing.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/*
The Secret the migrate Job reads: secrets.existingSecret, or the chart's hook Secret holding the owner URL.
*/}}
{{- define "bitewing.migrateSecretName" -}}
{{- default (printf "%s-migrate" (include "bitewing.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{/*
Refuse settings that cannot work in a cluster.
*/}}
{{- define "bitewing.validate" -}}
{{- $storage := toString (default "" .Values.settings.BITEWING_STORAGE_URL) }}
{{- if not $storage }}
{{- fail "settings.BITEWING_STORAGE_URL is required (e.g. s3://bucket/prefix): pods share no filesystem" }}
{{- end }}
{{- if hasPrefix "file:" $storage }}
{{- fail "settings.BITEWING_STORAGE_URL must not be file://: pods share no filesystem" }}
{{- end }}
{{- range $key, $value := .Values.settings }}
{{- if not (hasPrefix "BITEWING_" $key) }}
{{- fail (printf "settings.%s: every setting is a BITEWING_* environment variable" $key) }}
{{- end }}
{{- if has $key (list "BITEWING_SECRET_KEY" "BITEWING_DATABASE_URL" "BITEWING_MIGRATION_DATABASE_URL" "BITEWING_REDIS_URL" "BITEWING_S3_ACCESS_KEY_ID" "BITEWING_S3_SECRET_ACCESS_KEY") }}
{{- fail (printf "settings.%s belongs in secrets, not in the ConfigMap" $key) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The secret environment of app pods. The owner URL (BITEWING_MIGRATION_DATABASE_URL) is never among it.
*/}}
{{- define "bitewing.secretEnv" -}}
{{- $secret := include "bitewing.secretName" . }}
{{- range $key := list "BITEWING_SECRET_KEY" "BITEWING_DATABASE_URL" "BITEWING_REDIS_URL" }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
{{- end }}
{{- range $key := list "BITEWING_S3_ACCESS_KEY_ID" "BITEWING_S3_SECRET_ACCESS_KEY" }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
      optional: true
{{- end }}
{{- end }}

{{/*
Settings as literal env entries (the migrate Job runs before the ConfigMap exists on a first install).
*/}}
{{- define "bitewing.settingsEnv" -}}
{{- range $key, $value := .Values.settings }}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
- name: {{ $key }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Pod-level pieces shared by every Bitewing pod.
*/}}
{{- define "bitewing.podDefaults" -}}
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{- define "bitewing.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- end }}

{{- define "bitewing.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/*
Roll the pods when the settings or the chart's Secret change.
*/}}
{{- define "bitewing.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
