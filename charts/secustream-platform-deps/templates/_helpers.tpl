{{/* Names of the services the NOTES point to (kube-prometheus-stack fullnameOverride above). */}}
{{- define "secustream-platform-deps.prometheusService" -}}
{{- printf "%s-prometheus" (index .Values "kube-prometheus-stack" "fullnameOverride") }}
{{- end }}
{{- define "secustream-platform-deps.grafanaService" -}}
{{- index .Values "kube-prometheus-stack" "grafana" "fullnameOverride" }}
{{- end }}
