// Bearer-token authorization of the service-center API (CONTRACT §4): each
// configured token belongs to one tenant, or to "*" (every tenant). With no
// token configured the API is open and every request sees every tenant.
//
// Tokens are compared in constant time (every configured token is looked at,
// byte by byte) so that response timing does not reveal a token's prefix.
// Immutable after construction; any thread.
#ifndef PRECALL_GATEWAY_HTTP_AUTH_H_
#define PRECALL_GATEWAY_HTTP_AUTH_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace precall::http {

struct ApiToken {
  std::string token;
  std::string tenant;  // a tenant id, or "*" for all
};

// What an authorized request may see.
struct Scope {
  std::optional<std::string> tenant;  // nullopt: every tenant
  bool Allows(std::string_view t) const { return !tenant || *tenant == t; }
};

class TokenAuth {
 public:
  explicit TokenAuth(std::vector<ApiToken> tokens) : tokens_(std::move(tokens)) {}

  // The scope of a request with this Authorization header value (empty when
  // absent); nullopt when it must be refused (401).
  std::optional<Scope> Authorize(std::string_view authorization) const;

 private:
  std::vector<ApiToken> tokens_;
};

}  // namespace precall::http

#endif  // PRECALL_GATEWAY_HTTP_AUTH_H_
