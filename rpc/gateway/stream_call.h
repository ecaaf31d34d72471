// StreamCall: one gateway stream (Watch, LeaseKeepAlive, Snapshot) as an
// asynchronous gRPC call driven from the httplib thread serving its request.
//
// Every operation is issued on the call's own CompletionQueue and awaited in
// slices of kPollInterval; between slices the HTTP client's socket is
// checked (PeerSocket), and when the client has gone the call is cancelled.
// So a watch whose curl quit ends within a slice, not at the next event.
//
// Thread safety: not thread-safe; used by one httplib worker thread at a
// time (the handler, then the content provider, then the destructor).
// At most one operation is outstanding at any time.
#ifndef RAFTKV_RPC_GATEWAY_STREAM_CALL_H_
#define RAFTKV_RPC_GATEWAY_STREAM_CALL_H_

#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <memory>

#include "rpc/gateway/peer_socket.h"

namespace raftkv::rpc::gateway {

// R is grpc::ClientAsyncReaderWriter<Req, Resp> or
// grpc::ClientAsyncReader<Resp>.
template <typename R, typename Resp>
class StreamCall {
 public:
  static constexpr std::chrono::milliseconds kPollInterval{200};

  explicit StreamCall(PeerSocket peer) : peer_(peer) {}
  StreamCall(const StreamCall&) = delete;
  StreamCall& operator=(const StreamCall&) = delete;

  // Cancels the call if it has not finished, and drains the queue, so no
  // operation or gRPC stream outlives this object.
  ~StreamCall() {
    if (call_ != nullptr && !finished_) {
      context_.TryCancel();
      grpc::Status ignored;
      Finish(&ignored);
    }
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  grpc::ClientContext* context() { return &context_; }
  grpc::CompletionQueue* cq() { return &cq_; }
  // REQUIRES: called once, with the call prepared on context() and cq().
  void set_call(std::unique_ptr<R> call) { call_ = std::move(call); }
  R* call() { return call_.get(); }
  // The response the last successful Read() filled.
  const Resp& response() const { return response_; }
  // Whether the HTTP client was seen gone (the call is then cancelled).
  bool client_gone() const { return client_gone_; }

  // Each of these issues one operation and waits for it; false when it
  // failed (the call is over: Finish() tells why) or the client has gone.
  bool Start() {
    call_->StartCall(this);
    return Await();
  }
  template <typename Req>
  bool Write(const Req& request) {
    call_->Write(request, this);
    return Await();
  }
  bool WritesDone() {
    call_->WritesDone(this);
    return Await();
  }
  bool Read() {
    call_->Read(&response_, this);
    return Await();
  }
  // The call's final status. REQUIRES: no operation outstanding.
  void Finish(grpc::Status* status) {
    if (finished_) {
      *status = status_;
      return;
    }
    call_->Finish(&status_, this);
    Await();
    finished_ = true;
    *status = status_;
  }

 private:
  // Waits for the outstanding operation, cancelling the call (which then
  // completes it promptly) if the client disconnects meanwhile.
  bool Await() {
    for (;;) {
      void* tag;
      bool ok = false;
      auto next = cq_.AsyncNext(
          &tag, &ok, std::chrono::system_clock::now() + kPollInterval);
      if (next == grpc::CompletionQueue::GOT_EVENT) return ok && !client_gone_;
      if (next == grpc::CompletionQueue::SHUTDOWN) return false;
      if (!client_gone_ && !peer_.Connected()) {
        client_gone_ = true;
        context_.TryCancel();
      }
    }
  }

  const PeerSocket peer_;
  grpc::ClientContext context_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<R> call_;
  Resp response_;
  grpc::Status status_;
  bool finished_ = false;
  bool client_gone_ = false;
};

}  // namespace raftkv::rpc::gateway

#endif  // RAFTKV_RPC_GATEWAY_STREAM_CALL_H_
