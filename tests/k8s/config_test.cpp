#include "k8s-client/config.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>

#include "k8s_test_support.hpp"

using namespace kroute::k8s;
namespace t = kroute::k8s::test;

namespace {

std::string kubeconfig(const std::string& name) { return t::data_path("kubeconfig/" + name); }

// Sets (or unsets, for nullptr) an environment variable for one scope.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_{name} {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value != nullptr)
            ::setenv(name, value, 1);
        else
            ::unsetenv(name);
    }
    ~ScopedEnv() {
        if (old_)
            ::setenv(name_.c_str(), old_->c_str(), 1);
        else
            ::unsetenv(name_.c_str());
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    std::string name_;
    std::optional<std::string> old_;
};

const std::string kCaPem = "-----BEGIN CERTIFICATE-----\nZmFrZS1jYQ==\n-----END CERTIFICATE-----\n";

}  // namespace

TEST_CASE("in-cluster config", "[k8s][config]") {
    t::TempDir secrets;
    secrets.write("token", "sa-token\n");
    secrets.write("ca.crt", kCaPem);

    SECTION("IPv4 service address") {
        ScopedEnv host{"KUBERNETES_SERVICE_HOST", "10.96.0.1"};
        ScopedEnv port{"KUBERNETES_SERVICE_PORT", "443"};
        auto cfg = load_in_cluster_config(secrets.file(""));
        REQUIRE(cfg);
        CHECK(cfg->server == "https://10.96.0.1:443");
        CHECK(cfg->token == "sa-token");
        CHECK(cfg->token_file == secrets.file("token"));
        CHECK(cfg->ca_pem == kCaPem);
        CHECK(cfg->ca_file == secrets.file("ca.crt"));
        CHECK_FALSE(cfg->insecure_skip_tls_verify);
    }
    SECTION("IPv6 service address is bracketed") {
        ScopedEnv host{"KUBERNETES_SERVICE_HOST", "fd00:10:96::1"};
        ScopedEnv port{"KUBERNETES_SERVICE_PORT", "6443"};
        auto cfg = load_in_cluster_config(secrets.file(""));
        REQUIRE(cfg);
        CHECK(cfg->server == "https://[fd00:10:96::1]:6443");
    }
    SECTION("not in a cluster") {
        ScopedEnv host{"KUBERNETES_SERVICE_HOST", nullptr};
        ScopedEnv port{"KUBERNETES_SERVICE_PORT", "443"};
        auto cfg = load_in_cluster_config(secrets.file(""));
        REQUIRE_FALSE(cfg);
        CHECK_THAT(cfg.error(), Catch::Contains("KUBERNETES_SERVICE_HOST"));
    }
    SECTION("no token is an error; no CA falls back to the system roots") {
        ScopedEnv host{"KUBERNETES_SERVICE_HOST", "10.96.0.1"};
        ScopedEnv port{"KUBERNETES_SERVICE_PORT", "443"};
        t::TempDir empty;
        auto none = load_in_cluster_config(empty.file(""));
        REQUIRE_FALSE(none);
        CHECK_THAT(none.error(), Catch::Contains("token"));
        empty.write("token", "tok");
        auto no_ca = load_in_cluster_config(empty.file(""));
        REQUIRE(no_ca);
        CHECK(no_ca->ca_pem.empty());
        empty.write("token", "\n");
        CHECK_FALSE(load_in_cluster_config(empty.file("")));
    }
}

TEST_CASE("kubeconfig with inline data", "[k8s][config]") {
    auto cfg = load_kubeconfig(kubeconfig("data.yaml"));
    REQUIRE(cfg);
    CHECK(cfg->server == "https://127.0.0.1:40123");  // current-context's cluster, not the first one
    CHECK(cfg->ca_pem == kCaPem);
    CHECK(cfg->tls_server_name == "kubernetes.default.svc");
    CHECK(cfg->ca_file.empty());  // inline data: nothing to re-read
    CHECK(cfg->client_cert_pem == "-----BEGIN CERTIFICATE-----\nZmFrZS1jbGllbnQ=\n-----END CERTIFICATE-----\n");
    CHECK(cfg->client_key_pem == "-----BEGIN PRIVATE KEY-----\nZmFrZS1rZXk=\n-----END PRIVATE KEY-----\n");
    CHECK(cfg->token.empty());
    CHECK_FALSE(cfg->insecure_skip_tls_verify);
}

TEST_CASE("kubeconfig with files relative to its directory", "[k8s][config]") {
    auto cfg = load_kubeconfig(kubeconfig("files.yaml"));
    REQUIRE(cfg);
    CHECK(cfg->server == "https://[fd00::10]:6443");
    CHECK(cfg->ca_pem == t::read_text(kubeconfig("certs/ca.crt")));
    CHECK(cfg->ca_file == kubeconfig("certs/ca.crt"));
    CHECK(cfg->token_file == kubeconfig("certs/token"));
    CHECK(cfg->token == "file-token-xyz");
    CHECK(cfg->client_cert_pem == t::read_text(kubeconfig("certs/client.crt")));
    CHECK(cfg->client_key_pem == t::read_text(kubeconfig("certs/client.key")));
}

TEST_CASE("kubeconfig with a static token and insecure-skip-tls-verify", "[k8s][config]") {
    auto cfg = load_kubeconfig(kubeconfig("token-insecure.yaml"));
    REQUIRE(cfg);
    CHECK(cfg->server == "https://10.96.0.1:443");
    CHECK(cfg->token == "static-token-abc");
    CHECK(cfg->insecure_skip_tls_verify);
    CHECK(cfg->ca_pem.empty());
}

TEST_CASE("kubeconfigs kroute refuses, with errors that say why", "[k8s][config]") {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"exec.yaml", "exec credential plugin"},
        {"auth-provider.yaml", "auth-provider credential plugin"},
        {"no-context.yaml", "current-context"},
        {"missing-cluster.yaml", "no entry named \"nope\""},
        {"insecure-with-ca.yaml", "insecure-skip-tls-verify is not allowed"},
        {"bad-base64.yaml", "certificate-authority-data: invalid base64"},
        {"not-yaml.yaml", "not valid YAML"},
        {"does-not-exist.yaml", "cannot read"},
    };
    for (const auto& [file, needle] : cases) {
        INFO(file);
        auto cfg = load_kubeconfig(kubeconfig(file));
        REQUIRE_FALSE(cfg);
        CHECK_THAT(cfg.error(), Catch::Contains(needle) && Catch::Contains(file));
    }
}

TEST_CASE("kubeconfig: wrong types and missing references", "[k8s][config]") {
    t::TempDir dir;
    auto load = [&dir](const std::string& text) {
        dir.write("kc.yaml", text);
        return load_kubeconfig(dir.file("kc.yaml"));
    };
    const std::string head = "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n";
    CHECK_THAT(load("- a\n- b\n").error(), Catch::Contains("expected a map"));
    CHECK_THAT(load(head + "clusters: {k: 1}\n").error(), Catch::Contains("clusters: expected a list"));
    CHECK_THAT(load(head + "clusters: [{name: k, cluster: {server: [1]}}]\n").error(),
               Catch::Contains("server: expected a string"));
    CHECK_THAT(load(head + "clusters: [{name: k, cluster: {}}]\n").error(), Catch::Contains("has no server"));
    CHECK_THAT(load(head + "clusters: [{name: k, cluster: {server: 'https://x', insecure-skip-tls-verify: maybe}}]\n").error(),
               Catch::Contains("expected a boolean"));
    CHECK_THAT(load(head + "clusters: [{name: k, cluster: {server: 'https://x', certificate-authority: nope.crt}}]\n").error(),
               Catch::Contains("certificate-authority: cannot read"));
    CHECK_THAT(load(head + "clusters: [{name: k, cluster: {server: 'https://x'}}]\n").error(),
               Catch::Contains("users: missing"));
    CHECK_THAT(load(head + "clusters: [{name: k, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {username: a, password: b}}]\n").error(),
               Catch::Contains("basic auth"));
    CHECK_THAT(load(head + "clusters: [{name: k, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {client-certificate-data: YQ==}}]\n").error(),
               Catch::Contains("must be given together"));
    CHECK_THAT(load(head + "clusters: [{name: k, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {tokenFile: missing-token}}]\n").error(),
               Catch::Contains("tokenFile"));
    // A context without a user is anonymous; a user entry without a body has no credentials.
    auto anon = load("current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\nclusters: [{name: k, cluster: {server: 'https://x'}}]\n");
    REQUIRE(anon);
    CHECK(anon->token.empty());
    auto bare = load(head + "clusters: [{name: k, cluster: {server: 'https://x'}}]\nusers: [{name: u}]\n");
    REQUIRE(bare);
    CHECK(bare->server == "https://x");
}

TEST_CASE("resolve_config: kubeconfig first, master overrides the server", "[k8s][config]") {
    auto from_file = resolve_config(kubeconfig("token-insecure.yaml"), "");
    REQUIRE(from_file);
    CHECK(from_file->server == "https://10.96.0.1:443");
    auto overridden = resolve_config(kubeconfig("token-insecure.yaml"), "https://127.0.0.1:6443");
    REQUIRE(overridden);
    CHECK(overridden->server == "https://127.0.0.1:6443");
    CHECK(overridden->token == "static-token-abc");
    auto no_scheme = resolve_config(kubeconfig("token-insecure.yaml"), "127.0.0.1:6443");
    REQUIRE(no_scheme);
    CHECK(no_scheme->server == "https://127.0.0.1:6443");
    CHECK_FALSE(resolve_config(kubeconfig("exec.yaml"), "https://127.0.0.1:6443"));

    ScopedEnv host{"KUBERNETES_SERVICE_HOST", nullptr};
    auto master_only = resolve_config("", "http://127.0.0.1:8080");
    REQUIRE(master_only);
    CHECK(master_only->server == "http://127.0.0.1:8080");
    CHECK(master_only->token.empty());
    auto nothing = resolve_config("", "");
    REQUIRE_FALSE(nothing);
    CHECK_THAT(nothing.error(), Catch::Contains("not running in a cluster"));
}
