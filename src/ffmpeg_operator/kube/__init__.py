"""Pure mapping between process configs and Kubernetes objects: CRD, Pods, names, status."""
