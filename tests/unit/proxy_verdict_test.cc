#include "http/proxy_verdict.h"

#include <gtest/gtest.h>

namespace rangefs::http {
namespace {

ProxyEvidence Answered(long status) {
  ProxyEvidence evidence;
  evidence.got_response = true;
  evidence.status = status;
  return evidence;
}

// No answer: the request ended with `result` before any status line.
ProxyEvidence Unanswered(CURLcode result, bool stalled = false) {
  ProxyEvidence evidence;
  evidence.result = result;
  evidence.stalled = stalled;
  return evidence;
}

TEST(ProxyVerdictTest, UnreachableOrSilentProxiesFailed) {
  for (CURLcode result :
       {CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_PROXY, CURLE_OPERATION_TIMEDOUT,
        CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR}) {
    SCOPED_TRACE(curl_easy_strerror(result));
    const ProxyVerdict verdict = JudgeProxy(Unanswered(result));
    EXPECT_EQ(verdict.outcome, ProxyOutcome::kProxyFailed);
    EXPECT_EQ(verdict.reason, curl_easy_strerror(result));
  }
  const ProxyVerdict hung = JudgeProxy(Unanswered(CURLE_ABORTED_BY_CALLBACK, true));
  EXPECT_EQ(hung.outcome, ProxyOutcome::kProxyFailed);
  EXPECT_EQ(hung.reason, "no answer");
}

TEST(ProxyVerdictTest, StoppingOrOurOwnAbandonSaysNothing) {
  EXPECT_EQ(JudgeProxy(Unanswered(CURLE_ABORTED_BY_CALLBACK)).outcome, ProxyOutcome::kUnknown);
  EXPECT_EQ(JudgeProxy(Unanswered(CURLE_OUT_OF_MEMORY)).outcome, ProxyOutcome::kUnknown);
}

TEST(ProxyVerdictTest, AFailedConnectIsTheProxys) {
  ProxyEvidence evidence = Unanswered(CURLE_COULDNT_CONNECT);
  evidence.connect_status = 403;
  const ProxyVerdict verdict = JudgeProxy(evidence);
  EXPECT_EQ(verdict.outcome, ProxyOutcome::kProxyFailed);
  EXPECT_EQ(verdict.reason, "CONNECT answered 403");
  evidence = Answered(206);
  evidence.connect_status = 200;
  EXPECT_EQ(JudgeProxy(evidence).outcome, ProxyOutcome::kCarried);
}

TEST(ProxyVerdictTest, RelayedAnswersAreCarriedWhateverTheOriginSaid) {
  for (long status : {200L, 206L, 404L, 416L, 500L, 502L, 503L, 504L}) {
    SCOPED_TRACE(status);
    EXPECT_EQ(JudgeProxy(Answered(status)).outcome, ProxyOutcome::kCarried);
  }
}

TEST(ProxyVerdictTest, ProxyAuthenticationRequiredIsTheProxys) {
  EXPECT_EQ(JudgeProxy(Answered(407)).outcome, ProxyOutcome::kProxyFailed);
}

TEST(ProxyVerdictTest, ProxyStatusTellsWhoFailed) {
  ProxyEvidence evidence = Answered(502);
  evidence.proxy_status = "cache1; error=connection_refused; details=\"no, really\"";
  EXPECT_EQ(JudgeProxy(evidence).outcome, ProxyOutcome::kCarried) << "the origin refused";
  evidence.proxy_status = "cache1; error=proxy_internal_error";
  const ProxyVerdict verdict = JudgeProxy(evidence);
  EXPECT_EQ(verdict.outcome, ProxyOutcome::kProxyFailed);
  EXPECT_EQ(verdict.reason, "Proxy-Status proxy_internal_error");
  evidence.proxy_status = "cdn; hit, edge; Error=http_request_denied";
  EXPECT_EQ(JudgeProxy(evidence).outcome, ProxyOutcome::kProxyFailed);
}

TEST(ProxyVerdictTest, ProxyStatusErrorOfTheClosestMember) {
  EXPECT_EQ(ProxyStatusError("a; error=dns_timeout, b; error=proxy_loop_detected"),
            "proxy_loop_detected");
  EXPECT_EQ(ProxyStatusError("a; error=dns_timeout, b; hit"), "dns_timeout");
  EXPECT_EQ(ProxyStatusError("a; hit; fwd=uri-miss"), std::nullopt);
  EXPECT_EQ(ProxyStatusError(""), std::nullopt);
  EXPECT_TRUE(IsProxyOwnError("proxy_configuration_error"));
  EXPECT_FALSE(IsProxyOwnError("destination_unavailable"));
}

TEST(ProxyVerdictTest, SquidErrorsOfItsOwnAreTheProxys) {
  ProxyEvidence evidence = Answered(503);
  evidence.squid_error = "ERR_CONNECT_FAIL 111";
  EXPECT_EQ(JudgeProxy(evidence).outcome, ProxyOutcome::kCarried) << "the origin is down";
  evidence.squid_error = "ERR_SHUTTING_DOWN 0";
  EXPECT_EQ(JudgeProxy(evidence).outcome, ProxyOutcome::kProxyFailed);
  evidence = Answered(403);
  evidence.squid_error = "ERR_ACCESS_DENIED 0";
  const ProxyVerdict verdict = JudgeProxy(evidence);
  EXPECT_EQ(verdict.outcome, ProxyOutcome::kProxyFailed);
  EXPECT_EQ(verdict.reason, "X-Squid-Error ERR_ACCESS_DENIED");
}

TEST(ProxyVerdictTest, ABodyCutOffAfterTheHeadersCannotBeBlamed) {
  ProxyEvidence evidence = Answered(206);
  evidence.result = CURLE_PARTIAL_FILE;
  EXPECT_EQ(JudgeProxy(evidence).outcome, ProxyOutcome::kUnknown);
  evidence.result = CURLE_ABORTED_BY_CALLBACK;
  evidence.stalled = true;
  EXPECT_EQ(JudgeProxy(evidence).outcome, ProxyOutcome::kUnknown);
}

}  // namespace
}  // namespace rangefs::http
