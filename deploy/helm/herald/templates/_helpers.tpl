{{- define "herald.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "herald.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "herald.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "herald.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "herald.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "herald.fullname" .) -}}
{{- end -}}

{{/* The environment every role shares: settings, and the secrets as files. */}}
{{- define "herald.env" -}}
- name: HERALD_SECRET_KEY_FILE
  value: /run/secrets/herald/secret-key
- name: HERALD_DATABASE_URL_FILE
  value: /run/secrets/herald/database-url
{{- if .Values.secrets.oldSecretKeys }}
- name: HERALD_OLD_SECRET_KEYS_FILE
  value: /run/secrets/herald/old-secret-keys
{{- end }}
- name: HERALD_PUBLIC_URL
  value: {{ .Values.publicUrl | quote }}
- name: HERALD_MEDIA_DIR
  value: /var/lib/herald/media
- name: HERALD_SHUTDOWN_GRACE
  value: {{ .Values.worker.shutdownGrace | quote }}
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/* Called with (dict "root" $ "media" true|false): the migration Job, a hook that runs
before the release's volume claim exists, mounts no media. */}}
{{- define "herald.mounts" -}}
- name: secrets
  mountPath: /run/secrets/herald
  readOnly: true
{{- if .media }}
- name: media
  mountPath: /var/lib/herald/media
{{- end }}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Secret files 0440 with the pod's fsGroup: Herald refuses a world-readable _FILE. */}}
{{- define "herald.volumes" -}}
- name: secrets
  secret:
    secretName: {{ include "herald.secretName" .root }}
    defaultMode: 0440
{{- if .media }}
- name: media
{{- if .root.Values.media.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "herald.fullname" .root }}-media
{{- else }}
  emptyDir: {}
{{- end }}
{{- end }}
- name: tmp
  emptyDir: {}
{{- end -}}

{{/* The pod's security, placement and volumes; (dict "root" $ "media" true|false). */}}
{{- define "herald.pod" -}}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  {{- include "herald.volumes" . | nindent 2 }}
{{- end -}}
