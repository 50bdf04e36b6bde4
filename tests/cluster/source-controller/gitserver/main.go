// Command gitserver serves the git repositories under -root over smart HTTP on a loopback port,
// with Flux's own test server (gittestserver, which runs the system git's upload-pack and
// receive-pack), so the test cluster's source-controller clones from a real git remote that
// the tests push commits to. It prints the base URL as its only stdout line and stops on
// SIGTERM/SIGINT.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/fluxcd/pkg/gittestserver"
)

func main() {
	root := flag.String("root", "", "directory holding the served repositories (<name>.git)")
	flag.Parse()
	if *root == "" {
		log.Fatal("-root is required")
	}
	// AutoCreate: the first push to <name>.git creates the bare repository.
	server := gittestserver.NewGitServer(*root).AutoCreate()
	if err := server.StartHTTP(); err != nil {
		log.Fatalf("start: %v", err)
	}
	defer server.StopHTTP()
	fmt.Println(server.HTTPAddress())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
