import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { AuthKitProvider, useAuth } from "@workos-inc/authkit-react";
import { ConvexReactClient } from "convex/react";
import { ConvexProviderWithAuthKit } from "@convex-dev/workos";
import "./index.css";
import App from "./App.tsx";

const convex = new ConvexReactClient(import.meta.env.VITE_CONVEX_URL);

// The only change from Convex's AuthKit guide: AuthKit talks to Gatehouse instead of api.workos.com.
const apiPort = import.meta.env.VITE_WORKOS_API_PORT;

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <AuthKitProvider
      clientId={import.meta.env.VITE_WORKOS_CLIENT_ID}
      redirectUri={import.meta.env.VITE_WORKOS_REDIRECT_URI}
      apiHostname={import.meta.env.VITE_WORKOS_API_HOSTNAME}
      port={apiPort ? Number(apiPort) : undefined}
      https={(import.meta.env.VITE_WORKOS_API_HTTPS ?? "false") === "true"}
    >
      <ConvexProviderWithAuthKit client={convex} useAuth={useAuth}>
        <App />
      </ConvexProviderWithAuthKit>
    </AuthKitProvider>
  </StrictMode>,
);
