// Command coredns is CoreDNS with only the plugins the test cluster's DNS needs: answering
// cluster.local names from the Kubernetes API. The upstream binary links every plugin (cloud
// DNS providers, etcd, …), which costs build time and nothing here uses.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/whoami"
)

func init() {
	// The plugin chain's order, a subsequence of upstream's plugin.cfg order.
	dnsserver.Directives = []string{
		"bind", "ready", "health", "errors", "log", "cache", "kubernetes", "whoami",
	}
}

func main() {
	coremain.Run()
}
