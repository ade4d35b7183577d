/// Configuration files for the peer relays: each listens on three loopback ports (one per
/// backend mode) and connects over TLS 1.3 to the terminator, presenting the client
/// certificate and verifying the server's against the benchmark CA. One thread or worker
/// each, as in the comparison bed; no session reuse is possible because the terminator keeps
/// no sessions and issues no tickets.
enum PeerConfigs {
    /// One listener: local port and the terminator's TLS port for the same mode.
    struct Route {
        var mode: BackendMode
        var listenPort: Int
        var terminatorPort: Int
    }

    /// HAProxy in TCP mode, one thread (`haproxy -db -f FILE`).
    static func haproxy(routes: [Route], directory: String, maxConnections: Int) -> String {
        var text = """
            global
                nbthread 1
                maxconn \(maxConnections)
                ssl-server-verify required
                tune.ssl.default-dh-param 2048

            defaults
                mode tcp
                timeout connect 10s
                timeout client 600s
                timeout server 600s
                option tcp-smart-accept

            """
        for route in routes {
            text += """

                listen \(route.mode.rawValue)
                    bind 127.0.0.1:\(route.listenPort)
                    maxconn \(maxConnections)
                    server terminator 127.0.0.1:\(route.terminatorPort) ssl crt \(directory)/client-with-key.pem \
                ca-file \(directory)/ca.pem verify required ssl-min-ver TLSv1.3 no-ssl-reuse

                """
        }
        return text
    }

    /// stunnel in client mode, in the foreground (`stunnel FILE`).
    static func stunnel(routes: [Route], directory: String) -> String {
        var text = """
            foreground = yes
            pid =
            debug = 3
            output = \(directory)/stunnel-output.log
            socket = l:TCP_NODELAY=1
            socket = r:TCP_NODELAY=1

            """
        for route in routes {
            text += """

                [\(route.mode.rawValue)]
                client = yes
                accept = 127.0.0.1:\(route.listenPort)
                connect = 127.0.0.1:\(route.terminatorPort)
                cert = \(directory)/client.pem
                key = \(directory)/client.key
                CAfile = \(directory)/ca.pem
                verifyChain = yes
                sslVersionMin = TLSv1.3

                """
        }
        return text
    }

    /// nginx's stream module with proxy_ssl, one worker and no master process
    /// (`nginx -p DIR -c FILE -e LOG`), so the measured pid is the one doing the work.
    static func nginx(routes: [Route], directory: String, maxConnections: Int, streamModule: String?) -> String {
        var text = ""
        if let streamModule { text += "load_module \(streamModule);\n" }
        text += """
            daemon off;
            master_process off;
            worker_processes 1;
            worker_rlimit_nofile 20000;
            pid \(directory)/nginx.pid;
            error_log \(directory)/nginx-error.log warn;
            events {
                worker_connections \(maxConnections);
                multi_accept on;
            }
            stream {

            """
        for route in routes {
            text += """
                    server {
                        listen 127.0.0.1:\(route.listenPort);
                        tcp_nodelay on;
                        proxy_pass 127.0.0.1:\(route.terminatorPort);
                        proxy_ssl on;
                        proxy_ssl_protocols TLSv1.3;
                        proxy_ssl_certificate \(directory)/client.pem;
                        proxy_ssl_certificate_key \(directory)/client.key;
                        proxy_ssl_trusted_certificate \(directory)/ca.pem;
                        proxy_ssl_verify on;
                        proxy_ssl_name \(BenchPKI.serverName);
                        proxy_ssl_session_reuse off;
                        proxy_timeout 600s;
                    }

                """
        }
        return text + "}\n"
    }

    /// A Go relay: crypto/tls to the terminator plus io.Copy both ways, like the Go proxy's
    /// data path. Arguments: CA, client cert, client key, then listen=target pairs.
    static let goRelay = """
        package main

        import (
        \t"crypto/tls"
        \t"crypto/x509"
        \t"io"
        \t"log"
        \t"net"
        \t"os"
        \t"strings"
        )

        func main() {
        \tcaPEM, err := os.ReadFile(os.Args[1])
        \tif err != nil {
        \t\tlog.Fatal(err)
        \t}
        \tpool := x509.NewCertPool()
        \tpool.AppendCertsFromPEM(caPEM)
        \tcert, err := tls.LoadX509KeyPair(os.Args[2], os.Args[3])
        \tif err != nil {
        \t\tlog.Fatal(err)
        \t}
        \tconfig := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool,
        \t\tServerName: "\(BenchPKI.serverName)", MinVersion: tls.VersionTLS13}
        \tfor _, pair := range os.Args[4:] {
        \t\tparts := strings.SplitN(pair, "=", 2)
        \t\tlistener, err := net.Listen("tcp", parts[0])
        \t\tif err != nil {
        \t\t\tlog.Fatal(err)
        \t\t}
        \t\tgo serve(listener, parts[1], config)
        \t}
        \tselect {}
        }

        func serve(listener net.Listener, target string, config *tls.Config) {
        \tfor {
        \t\tclient, err := listener.Accept()
        \t\tif err != nil {
        \t\t\tcontinue
        \t\t}
        \t\tgo relay(client, target, config)
        \t}
        }

        func relay(client net.Conn, target string, config *tls.Config) {
        \tdefer client.Close()
        \tserver, err := tls.Dial("tcp", target, config)
        \tif err != nil {
        \t\treturn
        \t}
        \tdefer server.Close()
        \tdone := make(chan struct{}, 2)
        \tgo func() { io.Copy(server, client); server.CloseWrite(); done <- struct{}{} }()
        \tgo func() { io.Copy(client, server); done <- struct{}{} }()
        \t<-done
        \t<-done
        }

        """
}
